"""Temporal pooling of flow-warped heatmap stacks (the paper's conv9 and baselines).

Every pooler maps ``x: [B, T, h, w, J]`` (T = 2n+1 frames already warped to the
centre frame, index n = centre) and an optional ``confidence: [B, T, h, w, K]``
to pooled maps ``[B, h, w, J]``; ``POOLING[name](num_frames, num_joints, rngs=...)``
builds any of them.

  * "parametric": the paper's conv9, a per-joint learned weight per temporal
    offset + bias (a grouped 1x1 conv with J groups of T inputs; here an
    einsum over a [T, J] kernel, the same function). Init 1/T, bias 0 (= mean).
  * "sum": the paper's "sum" baseline, taken as the *mean* over T so its scale
    matches a single frame's map (argmax is unchanged by the 1/T).
  * "max": the paper's max (maxout) baseline over T.
  * "data_dependent" (beyond the paper): per-pixel, per-joint weights from a
    small conv net over each warped frame, the centre frame and that frame's
    confidence channels (e.g. warp validity and forward-backward flow error),
    softmax over T; initialised near uniform (≈ mean).

``sum``/``max``/``parametric`` ignore ``confidence``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from flowpose_jax.flow.warp import warp
from flowpose_jax.models import layers


def stack_and_warp(heatmaps: jax.Array, flows: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Warps every frame of a window onto the centre frame.

  Args:
    heatmaps: [B, T, h, w, J] per-frame maps.
    flows: [B, T, h, w, 2] heatmap-grid flow centre -> frame t
      (``windows.flows_to_heatmap(window_flows(...))``; zero for the centre).

  Returns:
    warped: [B, T, h, w, J]; valid: [B, T, h, w, 1] (see ``warp.warp``).
  """
  b, t, h, w, j = heatmaps.shape
  if flows.shape != (b, t, h, w, 2):
    raise ValueError(f"flows must be {(b, t, h, w, 2)} for heatmaps {heatmaps.shape}, got {flows.shape}")
  warped, valid = warp(heatmaps.reshape(b * t, h, w, j), flows.reshape(b * t, h, w, 2))
  return warped.reshape(b, t, h, w, j), valid.reshape(b, t, h, w, 1)


def _check(x: jax.Array, num_frames: int, num_joints: int) -> None:
  if x.ndim != 5 or x.shape[1] != num_frames or x.shape[-1] != num_joints:
    raise ValueError(f"pooling expects x [B, {num_frames}, h, w, {num_joints}], got {x.shape}")


class ParametricPooling(nnx.Module):
  """conv9: ``out[..., j] = sum_t kernel[t, j] * x[:, t, ..., j] + bias[j]``.

  Parameters: T*J weights + J biases (n=15, J=7: 217 + 7 = 224).
  """

  def __init__(self, num_frames: int, num_joints: int = 7, *, rngs: nnx.Rngs | None = None):
    del rngs  # deterministic init
    self.num_frames, self.num_joints = num_frames, num_joints
    self.kernel = nnx.Param(jnp.full((num_frames, num_joints), 1.0 / num_frames, jnp.float32))
    self.bias = nnx.Param(jnp.zeros((num_joints,), jnp.float32))

  def __call__(self, x: jax.Array, confidence: jax.Array | None = None) -> jax.Array:
    """x [B, T, h, w, J] -> [B, h, w, J]."""
    del confidence
    _check(x, self.num_frames, self.num_joints)
    return jnp.einsum("bthwj,tj->bhwj", x, self.kernel[...].astype(x.dtype)) + self.bias[...]


class _ReducePooling(nnx.Module):
  """Parameter-free pooling by a reduction over the frame axis."""

  reduce = staticmethod(jnp.mean)

  def __init__(self, num_frames: int, num_joints: int = 7, *, rngs: nnx.Rngs | None = None):
    del rngs
    self.num_frames, self.num_joints = num_frames, num_joints

  def __call__(self, x: jax.Array, confidence: jax.Array | None = None) -> jax.Array:
    """x [B, T, h, w, J] -> [B, h, w, J]."""
    del confidence
    _check(x, self.num_frames, self.num_joints)
    return self.reduce(x, axis=1)


class SumPooling(_ReducePooling):
  """Mean over frames (the paper's "sum" pooling, scaled by 1/T)."""

  reduce = staticmethod(jnp.mean)


class MaxPooling(_ReducePooling):
  """Max over frames (the paper's max / maxout pooling)."""

  reduce = staticmethod(jnp.max)


DD_HIDDEN = 16  # channels of the weighting net.
DD_KERNEL = 3
DD_HEAD_INIT_STD = 1e-3  # small: logits ≈ 0 at init, so weights ≈ 1/T.


class DataDependentPooling(nnx.Module):
  """Softmax-over-time weights predicted per pixel and joint (beyond the paper).

  For each frame t the net sees [x_t (J), x_centre (J), confidence_t (K)],
  conv3x3 -> ReLU -> conv1x1 -> J logits, plus a learned per-(t, j) bias
  (initially 0). ``out = sum_t softmax_t(logits) * x_t``.

  Args:
    num_frames: T = 2n+1 (centre index n).
    num_joints: J.
    confidence_channels: K (channels of ``confidence``; zeros when not given).
    hidden: width of the net.
  """

  def __init__(self, num_frames: int, num_joints: int = 7, *, confidence_channels: int = 1,
               hidden: int = DD_HIDDEN, rngs: nnx.Rngs):
    self.num_frames, self.num_joints = num_frames, num_joints
    self.confidence_channels = confidence_channels
    self.conv1 = layers.conv(2 * num_joints + confidence_channels, hidden, DD_KERNEL, rngs=rngs)
    self.head = nnx.Conv(hidden, num_joints, (1, 1), padding="SAME",
                         kernel_init=nnx.initializers.normal(DD_HEAD_INIT_STD),
                         bias_init=nnx.initializers.zeros, rngs=rngs)
    self.offset_bias = nnx.Param(jnp.zeros((num_frames, num_joints), jnp.float32))

  def weights(self, x: jax.Array, confidence: jax.Array | None = None) -> jax.Array:
    """Softmax weights [B, T, h, w, J] (sum to 1 over T)."""
    _check(x, self.num_frames, self.num_joints)
    b, t, h, w, j = x.shape
    if confidence is None:
      confidence = jnp.zeros((b, t, h, w, self.confidence_channels), x.dtype)
    if confidence.shape != (b, t, h, w, self.confidence_channels):
      raise ValueError(f"confidence must be {(b, t, h, w, self.confidence_channels)}, "
                       f"got {confidence.shape}")
    centre = jnp.broadcast_to(x[:, t // 2: t // 2 + 1], x.shape)
    feats = jnp.concatenate([x, centre, confidence.astype(x.dtype)], -1)
    feats = feats.reshape(b * t, h, w, -1)
    logits = self.head(jax.nn.relu(self.conv1(feats))).reshape(b, t, h, w, j)
    logits = logits + self.offset_bias[...][None, :, None, None, :]
    return jax.nn.softmax(logits, axis=1)

  def __call__(self, x: jax.Array, confidence: jax.Array | None = None) -> jax.Array:
    """x [B, T, h, w, J], confidence [B, T, h, w, K] or None -> [B, h, w, J]."""
    return jnp.sum(self.weights(x, confidence) * x, axis=1)


POOLING = {
    "parametric": ParametricPooling,
    "sum": SumPooling,
    "max": MaxPooling,
    "data_dependent": DataDependentPooling,
}
