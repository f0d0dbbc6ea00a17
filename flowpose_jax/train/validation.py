"""Checks of a whole training config, run before anything is written or built."""

from __future__ import annotations

import jax

from flowpose_jax.data.pipeline import split_batch
from flowpose_jax.errors import ConfigError


def validate_config(config) -> None:
  """Raises ConfigError naming the key for values that cannot work."""
  split_batch(config.batch_size, jax.device_count(), "devices")
  if config.input.size % config.input.stride:
    raise ConfigError(f"config.input.size={config.input.size} must be divisible by "
                      f"config.input.stride={config.input.stride}")
  if config.input.size % 4:
    raise ConfigError(f"config.input.size={config.input.size} must be divisible by 4 (two 2x2 pools)")
  if config.num_train_steps < 1:
    raise ConfigError(f"config.num_train_steps={config.num_train_steps} must be >= 1")
  for key in ("log_every", "checkpoint_every", "eval.batch_size"):
    value = config
    for part in key.split("."):
      value = value[part]
    if value < 1:
      raise ConfigError(f"config.{key}={value} must be >= 1")


__all__ = ["validate_config"]
