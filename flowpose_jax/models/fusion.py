"""Spatial fusion layers (conv A-E): an implicit spatial model over the joints.

Input: concat(post-ReLU conv3, post-ReLU conv7) of the HeatmapNet at heatmap
resolution; output: 7 refined heatmaps (no final ReLU). Two published layer
tables are selectable by name.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from flowpose_jax.models import layers

# (kernel, output channels) of conv A-D; conv E is 1x1 x num_joints, linear.
FUSION_VARIANTS: dict[str, tuple[tuple[int, int], ...]] = {
    # tpfister/caffe-heatmap models/heatmap-flic-fusion/train_val.prototxt.
    "release": ((7, 64), (13, 64), (13, 128), (1, 256)),
    # The authors' presentation slides.
    "slides": ((8, 64), (13, 64), (15, 64), (1, 128)),
}


class SpatialFusion(nnx.Module):
  """Conv A-E on the concatenated features.

  Args:
    in_features: channels of concat(conv3, conv7).
    variant: key of ``FUSION_VARIANTS``.
    width: channel multiplier for conv A-D (1.0 = paper).
    num_joints: output channels of conv E.
  """

  def __init__(self, in_features: int, *, variant: str = "release", width: float = 1.0,
               num_joints: int = 7, dtype=jnp.float32, rngs: nnx.Rngs):
    if variant not in FUSION_VARIANTS:
      raise ValueError(f"unknown fusion variant {variant!r}; choose one of {sorted(FUSION_VARIANTS)}")
    self.hidden = nnx.List([])
    c = in_features
    for kernel, out in FUSION_VARIANTS[variant]:
      out = layers.scaled(out, width)
      self.hidden.append(layers.conv(c, out, kernel, dtype=dtype, rngs=rngs))
      c = out
    self.out = layers.conv(c, num_joints, 1, dtype=dtype, rngs=rngs, head=True)

  def __call__(self, features: jax.Array) -> jax.Array:
    """features: [B, h, w, C] -> fused heatmaps [B, h, w, num_joints]."""
    x = features
    for conv in self.hidden:
      x = nnx.relu(conv(x))
    return self.out(x)
