"""Losses: masked L2 on heatmaps (the paper), robust alternatives, and L2 on coordinates (the
CoordinateNet baseline), all as (sum, count) pairs.

Robust regression is the paper's first future-work item and what noisy
automatic labels (BBC Pose Extended) call for. Each loss is a per-pixel
penalty ``rho(r)`` of the residual r = pred - target, scaled so that
``rho(r) = r**2`` for small r (all three agree on clean, well-fitted maps):

* "l2": r**2.
* "huber": r**2 for |r| <= c, else 2c|r| - c**2 (linear tails: a wrong label
  pulls with constant force, not in proportion to its error).
* "tukey": Tukey's biweight, (c**2/3) (1 - (1 - (r/c)**2)**3) for |r| <= c,
  else c**2/3 (residuals beyond c give no gradient: outliers are ignored).
  Only for fine-tuning a net that already fits: from scratch every target
  peak has residual ~1 > c, gets no gradient, and the net learns empty maps
  (0 % at d = 6 px on synthetic_signers/demo with c = 0.5, 500 steps).

``c`` (``config.loss.robust_scale``) is in heatmap units, where a target peak is 1.
"""

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


LOSSES = ("l2", "huber", "tukey")


def _rho(r: jax.Array, kind: str, c: float) -> jax.Array:
  if kind == "l2":
    return jnp.square(r)
  a = jnp.abs(r)
  if kind == "huber":
    return jnp.where(a <= c, jnp.square(r), 2.0 * c * a - c * c)
  if kind == "tukey":
    inside = 1.0 - jnp.square(jnp.minimum(a, c) / c)
    return (c * c / 3.0) * (1.0 - inside ** 3)
  raise ValueError(f"loss kind {kind!r}: use one of {LOSSES}")


def heatmap_loss(pred: jax.Array, target: jax.Array, weights: jax.Array, *, kind: str = "l2",
                 scale: float = 1.0) -> tuple[jax.Array, jax.Array]:
  """Masked per-pixel penalty ``kind`` (module docstring) on heatmaps, as (sum, count).

  Args:
    pred, target: [B, h, w, J] heatmaps; weights: [B, J] (0 masks a joint).
    kind: one of ``LOSSES``; scale: c of "huber"/"tukey" (heatmap units).

  Returns:
    (sum of weighted penalties, number of weighted map pixels), as ``heatmap_l2``.
  """
  if kind == "l2":
    return heatmap_l2(pred, target, weights)
  w = weights.astype(jnp.float32)[:, None, None, :]
  err = _rho(pred.astype(jnp.float32) - target.astype(jnp.float32), kind, float(scale))
  return jnp.sum(err * w), jnp.sum(w) * pred.shape[1] * pred.shape[2]


def coordinate_l2(pred: jax.Array, target: jax.Array, weights: jax.Array, size: int
                  ) -> tuple[jax.Array, jax.Array]:
  """Masked squared coordinate error (CoordinateNet), in units of the map side, as (sum, count).

  Args:
    pred: [B, J, 2] predicted (x, y) on the heatmap grid.
    target: [B, J, 2] true (x, y) on the grid; NaN where missing (masked).
    weights: [B, J]; 0 masks a joint.
    size: h, the heatmap side: errors are divided by it, so the loss does
      not depend on the input resolution.

  Returns:
    (sum of weighted squared errors over x and y, number of weighted coordinates).
  """
  w = weights.astype(jnp.float32)
  counted = w > 0
  diff = jnp.where(counted[..., None], pred.astype(jnp.float32) - jnp.nan_to_num(target), 0.0) / size
  return jnp.sum(jnp.square(diff) * w[..., None]), 2.0 * jnp.sum(w)


def mean_from(sum_count: tuple[jax.Array, jax.Array]) -> jax.Array:
  """sum / count, 0 when nothing counted."""
  s, c = sum_count
  return s / jnp.maximum(c, 1.0)
