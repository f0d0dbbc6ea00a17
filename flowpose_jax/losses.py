"""Losses: masked L2 on heatmaps (and on coordinates for the baseline)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def heatmap_l2(pred: jax.Array, target: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Masked squared error on heatmaps, as a (sum, count) pair.

  Args:
    pred: [B, h, w, J] predicted heatmaps.
    target: [B, h, w, J] Gaussian targets.
    weights: [B, J] per-joint weights; 0 masks a missing or off-map joint
      (its map contributes nothing, whatever the prediction).

  Returns:
    (sum of weighted squared errors, number of weighted map pixels): divide
    them for the mean per pixel of the joints that count. Sums, not means, so
    that padded or fully masked batches aggregate correctly.
  """
  w = weights.astype(jnp.float32)[:, None, None, :]
  err = jnp.square(pred.astype(jnp.float32) - target.astype(jnp.float32))
  pixels = pred.shape[1] * pred.shape[2]
  return jnp.sum(err * w), jnp.sum(w) * pixels


def mean_from(sum_count: tuple[jax.Array, jax.Array]) -> jax.Array:
  """sum / count, 0 when nothing counted."""
  s, c = sum_count
  return s / jnp.maximum(c, 1.0)
