"""Differentiable backward warping of heatmap stacks by dense flow (pure JAX).

Convention (the project's, and ``cv2.remap``'s with ``map = grid + flow``):

  ``warped[b, y, x] = bilinear(maps[b], x + flow[b, y, x, 0], y + flow[b, y, x, 1])``

so ``flow`` is the field *from* the output frame *to* the frame the maps were
computed on: to bring frame t+k's heatmaps to frame t, pass
``flow_t_to_tk`` (``flowpose_jax.flow.compute.flow_between(frame_t, frame_tk)``,
brought to the heatmap grid by ``flowpose_jax.data.windows.flows_to_heatmap``).

Coordinates: pixel centres at integers (``flowpose_jax.heatmaps``).

Border rule (ours, documented because libraries differ): bilinear with zero
padding. Each of the 4 taps that falls outside ``[0, W-1] x [0, H-1]``
contributes 0, so a sample half a pixel outside the image reads half the edge
value and one a full pixel out reads 0. ``valid`` is 1 where the sample point
itself lies in the closed rectangle ``[0, W-1] x [0, H-1]`` (all its non-zero
weight taps are real pixels) and 0 elsewhere. A non-finite flow vector (e.g.
NaN from ``compose_flows`` where a chain left the frame) gives output 0 and
valid 0.

Gradients: w.r.t. ``maps`` (a scatter-add of the bilinear weights) and
w.r.t. ``flow`` (through the bilinear weights; piecewise linear, so the
gradient is undefined exactly at integer sample coordinates; ``floor`` is
treated as constant). ``valid`` has zero gradient.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def warp(maps: jax.Array, flow: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Backward-warps ``maps`` by ``flow`` with a 4-tap bilinear gather.

  Args:
    maps: [B, H, W, C] float, the maps of the source frame.
    flow: [B, H, W, 2] float, (dx, dy) px on the same grid: output pixel
      (x, y) reads ``maps`` at (x + dx, y + dy).

  Returns:
    warped: [B, H, W, C] (dtype of ``maps``).
    valid: [B, H, W, 1] same dtype, 1 where the sample point is inside the
      image ``[0, W-1] x [0, H-1]`` and the flow is finite, else 0.
  """
  if maps.ndim != 4 or flow.ndim != 4 or flow.shape[-1] != 2 or flow.shape[:3] != maps.shape[:3]:
    raise ValueError(f"warp needs maps [B, H, W, C] and flow [B, H, W, 2] on the same grid; "
                     f"got maps {maps.shape} and flow {flow.shape}")
  b, h, w, c = maps.shape
  dtype = maps.dtype
  flow = flow.astype(jnp.float32)
  finite = jnp.all(jnp.isfinite(flow), axis=-1)  # [B, H, W]
  flow = jnp.where(finite[..., None], flow, 0.0)
  gy, gx = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32),
                        indexing="ij")
  sx = gx[None] + flow[..., 0]  # [B, H, W]
  sy = gy[None] + flow[..., 1]
  x0f = jax.lax.stop_gradient(jnp.floor(sx))
  y0f = jax.lax.stop_gradient(jnp.floor(sy))
  wx1 = sx - x0f
  wy1 = sy - y0f
  wx0 = 1.0 - wx1
  wy0 = 1.0 - wy1
  x0 = x0f.astype(jnp.int32)
  y0 = y0f.astype(jnp.int32)
  flat = maps.reshape(b, h * w, c)

  def tap(xi, yi, weight):
    inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1) & finite
    idx = jnp.clip(yi, 0, h - 1) * w + jnp.clip(xi, 0, w - 1)  # [B, H, W]
    # Per-example row gather (2x faster on CPU than take_along_axis).
    vals = jax.vmap(lambda rows, i: rows[i])(flat, idx.reshape(b, h * w))  # [B, HW, C]
    wgt = jnp.where(inside, weight, 0.0).reshape(b, h * w, 1).astype(dtype)
    return vals * wgt

  out = (tap(x0, y0, wx0 * wy0) + tap(x0 + 1, y0, wx1 * wy0)
         + tap(x0, y0 + 1, wx0 * wy1) + tap(x0 + 1, y0 + 1, wx1 * wy1))
  valid = (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1) & finite
  return out.reshape(b, h, w, c), valid[..., None].astype(dtype)
