"""Train state, optimizer and model construction from a config."""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax
from flax import nnx

from flowpose_jax import joints as joints_lib
from flowpose_jax.errors import ConfigError
from flowpose_jax.models import build_model


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


def make_model(config) -> tuple[nnx.GraphDef, dict]:
  """Builds the configured model; returns (graphdef, pure-dict params)."""
  model = build_model(config.model, num_joints=joints_lib.NUM_JOINTS, seed=config.seed)
  graphdef, state = nnx.split(model)
  return graphdef, nnx.to_pure_dict(state)


def abstract_model(config) -> tuple[nnx.GraphDef, dict]:
  """Like ``make_model`` but allocates nothing (shapes only)."""
  model = nnx.eval_shape(lambda: build_model(config.model, num_joints=joints_lib.NUM_JOINTS,
                                             seed=config.seed))
  graphdef, state = nnx.split(model)
  return graphdef, nnx.to_pure_dict(state)


def make_optimizer(opt_cfg, num_steps: int) -> optax.GradientTransformation:
  """optax chain from ``config.optimizer`` (clip -> optimizer with schedule)."""
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


def init_state(params: dict, tx: optax.GradientTransformation) -> TrainState:
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params))
