"""Small shared building blocks for the conv nets."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

MIN_CHANNELS = 8


def scaled(channels: int, width: float) -> int:
  """Channel count under a width multiplier (at least ``MIN_CHANNELS``)."""
  return max(MIN_CHANNELS, int(round(channels * width)))


def conv(in_features: int, out_features: int, kernel: int, *, dtype=jnp.float32,
         rngs: nnx.Rngs, head: bool = False) -> nnx.Conv:
  """Stride-1 'same' conv; He init for ReLU layers, LeCun for linear heads.

  The release used N(0, 0.01^2) for every layer, which with 17 layers and a
  ReLU on conv8 tends to collapse to all-zero maps (docs/paper.md P2); fan-in
  scaled init avoids that.
  """
  init = nnx.initializers.lecun_normal() if head else nnx.initializers.he_normal()
  return nnx.Conv(in_features, out_features, (kernel, kernel), padding="SAME",
                  kernel_init=init, bias_init=nnx.initializers.zeros,
                  dtype=dtype, param_dtype=jnp.float32, rngs=rngs)
