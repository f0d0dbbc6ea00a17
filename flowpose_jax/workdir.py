"""A training workdir: its config, its checkpoints' params, and the model they build.

The one home, below both ``train`` and ``inference``, of what a workdir holds
and how to read it back. Loading a workdir for inference imports neither the
optimizer nor the data pipeline.

Layout::

  <workdir>/config.json           the resolved config (written before step 1)
  <workdir>/checkpoints/<step>/   orbax: "state" (params, opt_state, step),
                                  "data" (grain iterator, one file per process),
                                  "meta" (JSON, with the params' SHA-256)
  <workdir>/checkpoints_set_aside/<step>-<why>/   checkpoints training will not
                                  resume from (unreadable, or after a divergence)

A shipped model (``flowpose publish``; the package's own in ``flowpose_jax/pretrained/NAME``)
is a folder read the same way, by its path or, for the package's, by its name
(``resolve``)::

  <folder>/config.json            the run's config
  <folder>/weights.safetensors    the params (``param_key`` names), float32
  <folder>/model_card.json        params digest, step, data, command, commit, results
  <folder>/README.md              the model card, for people

A workdir is a local folder or a ``gs://`` path: every access goes through
``etils.epath`` (orbax too). A checkpoint that does not load, or whose params
do not match the digest recorded at save time, is skipped with one logged line
for the previous intact one (``first_intact``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from flax import nnx

from flowpose_jax import fileio, joints as joints_lib, parallel
from flowpose_jax.errors import FlowposeError, InputError
from flowpose_jax.models import build_model

log = logging.getLogger("flowpose")

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
SET_ASIDE_DIR = "checkpoints_set_aside"
DIGEST_KEY = "params_sha256"  # in a checkpoint's meta (and a shipped model's card)
WEIGHTS_FILE = "weights.safetensors"
CARD_FILE = "model_card.json"
SHIPPED_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained")


def shipped_names() -> list[str]:
  """Names of the models shipped in the package (``flowpose_jax/pretrained/NAME``), sorted."""
  if not os.path.isdir(SHIPPED_ROOT):
    return []
  return sorted(n for n in os.listdir(SHIPPED_ROOT) if os.path.isfile(os.path.join(SHIPPED_ROOT, n, CARD_FILE)))


def resolve(ref: str) -> str:
  """A workdir or shipped-model folder to read: ``ref`` itself when it is a path that exists (or
  a ``gs://`` URL), else the shipped model named ``ref``, else ``ref`` (whose reader then says
  what is missing)."""
  ref = os.fspath(ref)
  if not fileio.is_local(ref) or os.path.exists(ref):
    return ref
  if ref in shipped_names():
    return os.path.join(SHIPPED_ROOT, ref)
  return ref


def is_shipped(folder: str) -> bool:
  """Whether ``folder`` (already ``resolve``d) holds a shipped model rather than checkpoints."""
  return path(folder, CARD_FILE).exists() and path(folder, WEIGHTS_FILE).exists()


def read_card(folder: str) -> dict:
  """A shipped model's ``model_card.json``."""
  p = path(folder, CARD_FILE)
  try:
    return json.loads(p.read_text(encoding="utf-8"))
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise InputError(f"{p} is unreadable ({type(e).__name__}: {e}); reinstall the package or "
                     f"publish the model again (`flowpose publish`)") from None


def param_key(key_path) -> str:
  """A params leaf's tree path -> its tensor name: the pure-dict keys joined by "." ("convs.0.kernel")."""
  return ".".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in key_path)


def _restore_shipped(folder: str, abstract_params: dict) -> tuple[dict, dict, int]:
  """(params on the first local device, model card, step) of a shipped model; its digest checked."""
  import safetensors.numpy  # pylint: disable=import-outside-toplevel
  card = read_card(folder)
  weights = os.fspath(path(folder, WEIGHTS_FILE))
  try:
    flat = safetensors.numpy.load_file(weights)
  except Exception as e:  # pylint: disable=broad-except  (safetensors raises its own errors for a bad file)
    raise InputError(f"{weights} is unreadable ({_one_line(e)}); reinstall the package or publish the "
                     f"model again") from None
  device = jax.local_devices()[0]

  def leaf(key_path, like):
    key = param_key(key_path)
    if key not in flat or tuple(flat[key].shape) != tuple(like.shape):
      found = "absent" if key not in flat else tuple(flat[key].shape)
      raise InputError(f"{weights}: tensor {key} is {found}, the model of its config.json needs "
                       f"{tuple(like.shape)}; the folder mixes two models: publish it again")
    return jax.device_put(flat[key].astype(like.dtype), device)

  params = jax.tree_util.tree_map_with_path(leaf, abstract_params)
  if card.get(DIGEST_KEY) and params_digest(params) != card[DIGEST_KEY]:
    raise UnreadableCheckpoint(f"{weights}: its params differ from the digest in {CARD_FILE}; reinstall the "
                               f"package or publish the model again")
  return params, card, int(card.get("step", 0))


def path(workdir: str, *parts: str) -> epath.Path:
  """``workdir``/parts as an ``epath.Path`` (local folders made absolute; ``gs://`` kept)."""
  p = epath.Path(workdir)
  if fileio.is_local(workdir):
    p = epath.Path(os.path.abspath(workdir))
  return p.joinpath(*parts)


def checkpoint_dir(workdir: str) -> str:
  """Absolute path (or URL) of the workdir's orbax checkpoint folder."""
  return os.fspath(path(workdir, CHECKPOINT_DIR))


def ensure(workdir: str) -> str:
  """Creates ``workdir`` (and parents) if needed; refuses a path that is a file."""
  p = path(workdir)
  if p.exists() and not p.is_dir():
    raise InputError(f"--workdir {workdir} is a file, not a folder: pass a new or existing folder")
  p.mkdir(parents=True, exist_ok=True)
  return workdir


def write_config(workdir: str, config: ml_collections.ConfigDict) -> None:
  """Writes the resolved config as ``<workdir>/config.json`` (atomically)."""
  fileio.write_text(os.fspath(path(workdir, CONFIG_FILE)), config.to_json_best_effort(indent=2))


def read_config(workdir: str) -> ml_collections.ConfigDict | None:
  """The config a run wrote into ``workdir``, or None if it holds none yet (the path as given:
  training reads its own workdir with it; readers of weights go through ``load_config``)."""
  p = path(workdir, CONFIG_FILE)
  if not p.exists():
    return None
  try:
    return ml_collections.ConfigDict(json.loads(p.read_text(encoding="utf-8")))
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise InputError(f"{p} is unreadable ({type(e).__name__}: {e}); restore it from a copy, "
                     f"or start a new --workdir") from None


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config of a trained workdir or a shipped model (``resolve``); a clear error when it is neither."""
  config = read_config(resolve(workdir))
  if config is None:
    names = shipped_names()
    shipped = f", or name a shipped model ({', '.join(names)})" if names else ""
    raise FlowposeError(f"{path(workdir, CONFIG_FILE)} not found: {workdir} is not a training "
                        f"workdir (train one with `flowpose train --config configs/demo.py "
                        f"--workdir {workdir}`{shipped})")
  return config


def make_model(config) -> tuple[nnx.GraphDef, dict]:
  """Builds the configured model; returns (graphdef, pure-dict params)."""
  model = build_model(config.model, num_joints=joints_lib.NUM_JOINTS, seed=config.seed)
  graphdef, state = nnx.split(model)
  return graphdef, nnx.to_pure_dict(state)


def abstract_model(config) -> tuple[nnx.GraphDef, dict]:
  """Like ``make_model`` but allocates nothing: params are ShapeDtypeStructs."""
  model = nnx.eval_shape(lambda: build_model(config.model, num_joints=joints_lib.NUM_JOINTS,
                                             seed=config.seed))
  graphdef, state = nnx.split(model)
  return graphdef, nnx.to_pure_dict(state)


def params_digest(params) -> str:
  """SHA-256 (hex) of a params tree: every leaf's path, dtype, shape and bytes, in path order.

  Equal digests mean bit-identical params. Replicated multi-host arrays are
  read from this host's copy.
  """
  h = hashlib.sha256()
  leaves = jax.tree_util.tree_flatten_with_path(parallel.host_local(params))[0]
  for key, leaf in sorted((jax.tree_util.keystr(k), v) for k, v in leaves):
    x = np.ascontiguousarray(np.asarray(leaf))
    h.update(f"{key}|{x.dtype}|{x.shape}|".encode())
    h.update(x.tobytes())
  return h.hexdigest()


class UnreadableCheckpoint(FlowposeError):
  """A checkpoint that does not load, or loads params other than those saved."""


def _one_line(e: BaseException) -> str:
  text = str(e).strip().splitlines()
  return f"{type(e).__name__}: {text[0][:200] if text else ''}"


def _is_closed_loop_callback(unraisable) -> bool:
  """True for asyncio's "Event loop is closed" raised by a call onto a closed loop."""
  if not (isinstance(unraisable.exc_value, RuntimeError)
          and str(unraisable.exc_value) == "Event loop is closed"):
    return False
  tb = unraisable.exc_traceback
  while tb is not None and tb.tb_next is not None:
    tb = tb.tb_next
  return tb is not None and tb.tb_frame.f_code.co_name == "_check_closed"


def quiet_closed_loop_callbacks() -> None:
  """Drops the unraisable "Event loop is closed" errors of an abandoned checkpoint read or write.

  When one read of a checkpoint fails, orbax's restore closes its asyncio loop
  while tensorstore still completes the item's other reads; each completion
  then schedules onto the closed loop from a tensorstore thread, and Python
  prints every one as a traceback (about 30 for one truncated checkpoint),
  around the one-line warning that already says what happened. Installed once,
  before the first checkpoint read; any other unraisable exception still goes
  to the hook that was there before.
  """
  previous = sys.unraisablehook
  if getattr(previous, "_flowpose_quiet", False):
    return

  def hook(unraisable):
    if not _is_closed_loop_callback(unraisable):
      previous(unraisable)

  hook._flowpose_quiet = True
  sys.unraisablehook = hook


def first_intact(directory: str, steps: list[int], restore: Callable[[int], tuple[Any, dict]],
                 on_unreadable: Callable[[int, str], None] | None = None) -> tuple[Any, dict, int]:
  """The newest of ``steps`` that ``restore`` reads back intact.

  Args:
    directory: the checkpoint folder (for messages).
    steps: candidate steps, any order.
    restore: step -> (restored items, meta); its params (``items["params"]``
      or ``items["state"]["params"]``) are checked against ``meta``'s digest
      when the checkpoint recorded one.
    on_unreadable: called with (step, reason) for each checkpoint skipped.

  Returns:
    (restored items, meta, step). Raises ``UnreadableCheckpoint`` naming
    each step and why when none is intact.
  """
  quiet_closed_loop_callbacks()  # before reading: they can fire while a failed read unwinds
  reasons = []
  for step in sorted(steps, reverse=True):
    try:
      items, meta = restore(step)
      params = items["state"]["params"] if "state" in items else items["params"]
      if DIGEST_KEY in meta and params_digest(params) != meta[DIGEST_KEY]:
        raise UnreadableCheckpoint("its params differ from the digest recorded when it was saved")
    except Exception as e:  # pylint: disable=broad-except  (tensorstore, JSON, orbax: any failure to read)
      reason = _one_line(e)
      reasons.append(f"step {step} ({reason})")
      log.warning("checkpoint step %d in %s is unreadable (%s); trying the previous one", step, directory,
                  reason)
      if on_unreadable is not None:
        on_unreadable(step, reason)
      continue
    return items, meta, step
  raise UnreadableCheckpoint(f"no intact checkpoint in {directory}: {'; '.join(reasons)}. Start a new "
                             f"--workdir, or restore the checkpoints from a copy")


def _reader(workdir: str) -> ocp.CheckpointManager:
  directory = checkpoint_dir(workdir)
  if not epath.Path(directory).is_dir():
    raise FlowposeError(f"no checkpoint in {directory}: train first with `flowpose train`")
  return ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(create=False, read_only=True))


def restore_params(workdir: str, abstract_params: dict, step: int | None = None) -> tuple[dict, dict, int]:
  """Restores only the params of a checkpoint and its metadata.

  Args:
    workdir: a training workdir, or a shipped model's folder or name (``resolve``;
      its one step, ``step`` ignored; meta = its model card).
    abstract_params: pure-dict tree of arrays or ShapeDtypeStructs giving shapes
      and dtypes; leaves without a sharding land on the first local device.
    step: a checkpointed step (default: the latest intact one: an unreadable
      latest checkpoint is skipped, with one logged line, for the one before).

  Returns:
    (params, meta dict, step).
  """
  workdir = resolve(workdir)
  if is_shipped(workdir):
    return _restore_shipped(workdir, abstract_params)
  manager = _reader(workdir)
  directory = checkpoint_dir(workdir)
  try:
    steps = list(manager.all_steps())
    if not steps:
      raise FlowposeError(f"no checkpoint in {directory}: train first with `flowpose train`")
    if step is not None and int(step) not in steps:
      raise FlowposeError(f"no checkpoint of step {step} in {directory}; it has steps {sorted(steps)}")
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = {"params": jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None) or device),
        abstract_params)}

    def restore(s: int):
      restored = manager.restore(s, args=ocp.args.Composite(
          state=ocp.args.PyTreeRestore(item=target, partial_restore=True,
                                       restore_args=ocp.checkpoint_utils.construct_restore_args(target)),
          meta=ocp.args.JsonRestore()))
      return restored["state"], restored["meta"]

    state, meta, step = first_intact(directory, [int(step)] if step is not None else steps, restore)
  finally:
    manager.close()
  return state["params"], meta, step


DATA_ITEM = "data"  # the grain iterator's item of a checkpoint: process_<i>-of-<n>.json


def data_positions(workdir: str, step: int) -> dict[str, Any]:
  """{"process_<i>-of-<n>": grain iterator state} saved with checkpoint ``step`` (JSON as written)."""
  folder = epath.Path(checkpoint_dir(workdir)) / str(step) / DATA_ITEM
  if not folder.is_dir():
    return {}
  return {f.name[:-len(".json")]: json.loads(f.read_text()) for f in sorted(folder.glob("process_*.json"))}


def inspect(workdir: str, step: int | None = None) -> dict[str, str]:
  """What a workdir holds, for people comparing runs (``flowpose inspect``).

  Returns (in print order) the checkpointed steps, the restored step, the
  config's model and data, each process's data-iterator position and the
  params' SHA-256 (``params_digest``: equal means bit-identical params).
  """
  config = load_config(workdir)
  _, abstract = abstract_model(config)
  params, meta, step = restore_params(workdir, abstract, step)
  if is_shipped(resolve(workdir)):
    steps = [step]
  else:
    manager = _reader(workdir)
    try:
      steps = sorted(manager.all_steps())
    finally:
      manager.close()
  model = config.model
  positions = data_positions(workdir, step)
  return {
      "workdir": workdir,
      "checkpoints": ", ".join(map(str, steps)),
      "step": str(step),
      "model": (f"{model.name} (width {model.get('width', 1.0):g}, dtype {model.get('dtype', 'float32')}); "
                f"{sum(int(np.prod(x.shape)) for x in jax.tree.leaves(abstract)):,} params"),
      "data": (f"{config.dataset.name} {config.dataset.train_split}, input {config.input.size}px, "
               f"global batch {config.batch_size}, seed {config.seed}, {config.num_train_steps} steps"),
      "data position": "; ".join(f"{k}: {json.dumps(v, sort_keys=True)}" for k, v in positions.items())
                       or "not saved",
      "params sha256": params_digest(params),
      "saved on": f"{meta.get('num_devices', '?')} devices",
  }


@dataclasses.dataclass(frozen=True)
class Trained:
  """A trained workdir, loaded: what inference and export need, nothing of training.

  Attributes:
    config: the run's resolved ConfigDict.
    graphdef: the model's ``nnx.GraphDef``.
    params: pure-dict params (``nnx.to_pure_dict`` layout), on one device.
    step: the checkpoint's step.
  """
  config: ml_collections.ConfigDict
  graphdef: nnx.GraphDef
  params: dict
  step: int


def load(workdir: str, step: int | None = None) -> Trained:
  """The config of ``workdir`` (or of a shipped model's folder or name, ``resolve``), its latest
  (or given) params and the model built from them."""
  config = load_config(workdir)
  graphdef, abstract = abstract_model(config)
  params, _, step = restore_params(workdir, abstract, step)
  return Trained(config=config, graphdef=graphdef, params=params, step=step)


__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "CARD_FILE", "SHIPPED_ROOT", "shipped_names", "resolve", "is_shipped",
           "read_card", "param_key", "CHECKPOINT_DIR", "SET_ASIDE_DIR", "DIGEST_KEY", "Trained", "UnreadableCheckpoint",
           "load", "load_config", "inspect", "data_positions", "read_config", "write_config", "ensure", "path", "checkpoint_dir",
           "params_digest", "first_intact", "quiet_closed_loop_callbacks", "restore_params", "make_model",
           "abstract_model"]
