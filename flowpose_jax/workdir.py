"""A training workdir: its config, its checkpoints' params, and the model they build.

The one home, below both ``train`` and ``inference``, of what a workdir holds
and how to read it back. Loading a workdir for inference imports neither the
optimizer nor the data pipeline.

Layout::

  <workdir>/config.json           the resolved config (written before step 1)
  <workdir>/checkpoints/<step>/   orbax: "state" (params, opt_state, step),
                                  "data" (grain iterator), "meta" (JSON)
"""

from __future__ import annotations

import dataclasses
import json
import os

import jax
import ml_collections
import orbax.checkpoint as ocp
from flax import nnx

from flowpose_jax import fileio, joints as joints_lib
from flowpose_jax.errors import FlowposeError, InputError
from flowpose_jax.models import build_model

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"


def checkpoint_dir(workdir: str) -> str:
  """Absolute path of the workdir's orbax checkpoint folder."""
  return os.path.abspath(os.path.join(workdir, CHECKPOINT_DIR))


def ensure(workdir: str) -> str:
  """Creates ``workdir`` (and parents) if needed; refuses a path that is a file."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise InputError(f"--workdir {workdir} is a file, not a folder: pass a new or existing folder")
  os.makedirs(workdir, exist_ok=True)
  return workdir


def write_config(workdir: str, config: ml_collections.ConfigDict) -> None:
  """Writes the resolved config as ``<workdir>/config.json`` (atomically)."""
  fileio.write_text(os.path.join(workdir, CONFIG_FILE), config.to_json_best_effort(indent=2))


def read_config(workdir: str) -> ml_collections.ConfigDict | None:
  """The config a run wrote into ``workdir``, or None if it holds none yet."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path, encoding="utf-8") as f:
      return ml_collections.ConfigDict(json.load(f))
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise InputError(f"{path} is unreadable ({type(e).__name__}: {e}); restore it from a copy, "
                     f"or start a new --workdir") from None


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config of a trained workdir; a clear error when it is not one."""
  config = read_config(workdir)
  if config is None:
    raise FlowposeError(f"{os.path.join(workdir, CONFIG_FILE)} not found: {workdir} is not a training "
                        f"workdir (train one with `flowpose train --config configs/demo.py "
                        f"--workdir {workdir}`)")
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


def _reader(workdir: str) -> ocp.CheckpointManager:
  directory = checkpoint_dir(workdir)
  if not os.path.isdir(directory):
    raise FlowposeError(f"no checkpoint in {directory}: train first with `flowpose train`")
  return ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(create=False))


def restore_params(workdir: str, abstract_params: dict, step: int | None = None) -> tuple[dict, dict, int]:
  """Restores only the params of a checkpoint (latest, or ``step``) and its metadata.

  Args:
    workdir: a training workdir.
    abstract_params: pure-dict tree of arrays or ShapeDtypeStructs giving shapes
      and dtypes; leaves without a sharding land on the first local device.
    step: a checkpointed step (default: the latest).

  Returns:
    (params, meta dict, step).
  """
  manager = _reader(workdir)
  try:
    step = manager.latest_step() if step is None else int(step)
    if step is None:
      raise FlowposeError(f"no checkpoint in {checkpoint_dir(workdir)}: train first with `flowpose train`")
    if step not in manager.all_steps():
      raise FlowposeError(f"no checkpoint of step {step} in {checkpoint_dir(workdir)}; "
                          f"it has steps {sorted(manager.all_steps())}")
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = {"params": jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None) or device),
        abstract_params)}
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.PyTreeRestore(item=target, partial_restore=True,
                                     restore_args=ocp.checkpoint_utils.construct_restore_args(target)),
        meta=ocp.args.JsonRestore()))
  finally:
    manager.close()
  return restored["state"]["params"], restored["meta"], step


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
  """The config of ``workdir``, its latest (or given) params and the model built from them."""
  config = load_config(workdir)
  graphdef, abstract = abstract_model(config)
  params, _, step = restore_params(workdir, abstract, step)
  return Trained(config=config, graphdef=graphdef, params=params, step=step)


__all__ = ["CONFIG_FILE", "CHECKPOINT_DIR", "Trained", "load", "load_config", "read_config",
           "write_config", "ensure", "checkpoint_dir", "restore_params", "make_model",
           "abstract_model"]
