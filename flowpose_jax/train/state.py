"""Train state and optimizer from a config (the model itself: ``flowpose_jax.workdir``)."""

from __future__ import annotations

import logging
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from flowpose_jax import workdir as workdir_lib
from flowpose_jax.errors import ConfigError
from flowpose_jax.models.heatmap_net import REFINE_KEY

log = logging.getLogger("flowpose")


@flax.struct.dataclass
class TrainState:
  """Everything a step changes; a plain pytree (orbax and export see dicts).

  Attributes:
    step: [] int32, steps taken.
    params: nested dict of float32 arrays (``nnx.to_pure_dict`` layout).
    opt_state: optax state for ``params``.
  """
  step: jax.Array
  params: Any
  opt_state: Any


def make_optimizer(opt_cfg, num_steps: int, freeze: tuple[str, ...] = ()) -> optax.GradientTransformation:
  """optax chain from ``config.optimizer`` (clip -> optimizer with schedule).

  ``freeze`` names top-level parameter groups (e.g. "spatial" of the flowing
  model) that stay fixed: their updates are zero and they hold no optimizer
  state.
  """
  tx = _make_trainable_optimizer(opt_cfg, num_steps)
  if not freeze:
    return tx

  def labels(params):
    return {k: jax.tree.map(lambda _: "frozen" if k in freeze else "train", v) for k, v in params.items()}

  return optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()}, labels)


def _make_trainable_optimizer(opt_cfg, num_steps: int) -> optax.GradientTransformation:
  lr = opt_cfg.learning_rate
  warmup = min(opt_cfg.warmup_steps, max(num_steps - 1, 0))
  if opt_cfg.schedule == "cosine":
    schedule = optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(num_steps, warmup + 1), end_value=lr * 0.01)
  elif opt_cfg.schedule == "constant":
    schedule = optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), optax.constant_schedule(lr)],
                                    [warmup]) if warmup else optax.constant_schedule(lr)
  else:
    raise ConfigError(f"config.optimizer.schedule={opt_cfg.schedule!r}: use 'cosine' or 'constant'")
  if opt_cfg.name == "adam":
    opt = optax.adamw(schedule, weight_decay=opt_cfg.weight_decay) if opt_cfg.weight_decay else optax.adam(schedule)
  elif opt_cfg.name == "sgd":
    opt = optax.chain(optax.add_decayed_weights(opt_cfg.weight_decay),
                      optax.sgd(schedule, momentum=opt_cfg.momentum))
  else:
    raise ConfigError(f"config.optimizer.name={opt_cfg.name!r}: use 'adam' or 'sgd'")
  if opt_cfg.grad_clip:
    return optax.chain(optax.clip_by_global_norm(opt_cfg.grad_clip), opt)
  return opt


def load_pretrained(params: dict, workdir: str) -> dict:
  """Initialises ``params`` from the latest checkpoint of an earlier stage.

  Staged training: a flowing model (params {"spatial", "pool"}) takes a
  single-frame run's params as its "spatial" part; a model of the same kind
  takes them whole. Shapes must match (same width/fusion). A stride-2
  HeatmapNet (``model.output_stride=2``) also takes a stride-4 run's params:
  its refine head, which that run lacks, keeps its initialisation (a zero
  residual, so it starts from that run's maps, upsampled).
  """
  target = params["spatial"] if "spatial" in params else params
  source = _source_model(workdir)
  fresh = {}
  if REFINE_KEY in target and source is not None and REFINE_KEY not in source[1].get("spatial", source[1]):
    fresh = {REFINE_KEY: target[REFINE_KEY]}
    target = {k: v for k, v in target.items() if k != REFINE_KEY}
  _check_fits(target, workdir, source)
  try:
    loaded, _, step = workdir_lib.restore_params(workdir, target)
  except (ValueError, KeyError) as e:
    raise ConfigError(f"config.init_from={workdir!r}: its params do not fit this model "
                      f"({str(e).splitlines()[0]}); use the same model.width/fusion as that run") from None
  loaded = dict(loaded, **fresh)
  log.info("weights from %s, step %d%s%s", workdir, step,
           " (the flowing model's single-frame part)" if "spatial" in params else "",
           "; the stride-2 refine head starts from its initialisation" if fresh else "")
  if "spatial" in params:
    return dict(params, spatial=loaded)
  return loaded


def _source_model(workdir: str):
  """``init_from``'s (config, abstract params) from its config.json (no weights read), or None without one."""
  source = workdir_lib.read_config(workdir_lib.resolve(workdir))
  if source is None:
    return None
  return source, workdir_lib.abstract_model(source)[1]


def _check_fits(target: dict, workdir: str, source) -> None:
  """Refuses an ``init_from`` run whose params (``source``: ``_source_model``) differ from ``target``'s
  in structure or shape, naming the first difference: a model mismatch, not a damaged checkpoint."""
  if source is None:
    return  # no config.json: the checkpoint read says what is wrong
  source, theirs = source
  ours = {jax.tree_util.keystr(k): v.shape for k, v in jax.tree_util.tree_leaves_with_path(target)}
  found = {jax.tree_util.keystr(k): v.shape for k, v in jax.tree_util.tree_leaves_with_path(theirs)}
  for key in sorted(ours.keys() | found.keys()):
    if ours.get(key) != found.get(key):
      mine = source.model
      raise ConfigError(
          f"config.init_from={workdir!r} holds another model ({mine.name}, width {mine.get('width')}, fusion "
          f"{mine.get('fusion')}): params{key} is {found.get(key, 'absent')} there, {ours.get(key, 'absent')} "
          f"here; use that run's model.width/fusion, or init from a run of this model")


def init_state(params: dict, tx: optax.GradientTransformation) -> TrainState:
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params))
