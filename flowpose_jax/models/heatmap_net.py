"""HeatmapNet (the paper's SpatialNet, conv1-conv8) with optional fusion.

Layer table of the authors' Caffe release (tpfister/caffe-heatmap,
models/heatmap-flic-fusion/train_val.prototxt): all convs stride 1, 'same'
padding, ReLU; 2x2/2 max-pool after conv1 and conv2, so a 256x256 input gives
64x64 maps (stride 4).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from flowpose_jax.heatmaps import DEFAULT_SIGMA
from flowpose_jax.models import layers
from flowpose_jax.models.fusion import SpatialFusion

# (name, kernel, output channels, max-pool after).
SPATIAL_LAYERS: tuple[tuple[str, int, int, bool], ...] = (
    ("conv1", 5, 128, True),
    ("conv2", 5, 128, True),
    ("conv3", 5, 128, False),
    ("conv4", 9, 256, False),
    ("conv5", 9, 512, False),
    ("conv6", 1, 256, False),
    ("conv7", 1, 256, False),
)
FUSION_INPUTS = ("conv3", "conv7")
OUTPUT_STRIDE = 4
PIXEL_SCALE = 1.0 / 255.0  # uint8 -> [0, 1]; then centred at 0.
PIXEL_CENTRE = 0.5
POOL = dict(window_shape=(2, 2), strides=(2, 2))  # the 2x2/2 max-pool after conv1 and conv2

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def conv_block(conv: nnx.Conv, x: jax.Array, pool: dict | None) -> jax.Array:
  """conv -> ReLU (-> max-pool with ``pool``'s arguments): the unit ``remat`` recomputes.

  The pool is inside the block so that with remat only the pooled output is
  kept for the backward pass, not the full-resolution conv output (conv1's
  is the largest activation of the net).
  """
  x = nnx.relu(conv(x))
  return x if pool is None else nnx.max_pool(x, **pool)


def apply_blocks(convs, pools, x: jax.Array, pool: dict, remat: bool) -> list[jax.Array]:
  """Runs ``conv_block`` over ``convs`` (pooling where ``pools`` says); returns every block's output."""
  blocks = {False: lambda c, y: conv_block(c, y, None), True: lambda c, y: conv_block(c, y, pool)}
  if remat:
    blocks = {k: nnx.remat(f) for k, f in blocks.items()}
  outs = []
  for conv, pooled in zip(convs, pools):
    x = blocks[bool(pooled)](conv, x)
    outs.append(x)
  return outs


class HeatmapNet(nnx.Module):
  """Frame -> joint heatmaps, plus the spatial-fusion refinement.

  Args:
    num_joints: output channels (7 for BBC Pose).
    width: channel multiplier (1.0 = paper).
    fusion: "release", "slides" or "none" (see ``fusion.FUSION_VARIANTS``).
    final_relu: ReLU on conv8 as in the release (default off, docs/paper.md P2).
    dtype: compute dtype name ("float32" | "bfloat16" | "float16"); params stay float32.
    remat: recompute each conv + ReLU (+ pool) in the backward pass instead of
      keeping its full-resolution output (``conv_block``): less activation
      memory per image for about one more forward pass of compute.
  """

  INPUTS = ("image",)  # batch keys passed to __call__, in order

  def __init__(self, *, num_joints: int = 7, width: float = 1.0, fusion: str = "release",
               final_relu: bool = False, dtype: str = "float32", remat: bool = False, rngs: nnx.Rngs):
    if dtype not in DTYPES:
      raise ValueError(f"model.dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    self.dtype = DTYPES[dtype]
    self.final_relu = final_relu
    self.remat = remat
    self.names = tuple(name for name, *_ in SPATIAL_LAYERS)
    self.pools = tuple(pool for *_, pool in SPATIAL_LAYERS)
    self.convs = nnx.List([])
    channels = {}
    c = 3
    for name, kernel, out, _ in SPATIAL_LAYERS:
      out = layers.scaled(out, width)
      self.convs.append(layers.conv(c, out, kernel, dtype=self.dtype, rngs=rngs))
      channels[name] = c = out
    self.conv8 = layers.conv(c, num_joints, 1, dtype=self.dtype, rngs=rngs, head=True)
    if fusion == "none":
      self.fusion = None
    else:
      self.fusion = SpatialFusion(sum(channels[n] for n in FUSION_INPUTS), variant=fusion,
                                  width=width, num_joints=num_joints, dtype=self.dtype, rngs=rngs)

  def __call__(self, images: jax.Array) -> dict[str, jax.Array]:
    """Runs the net.

    Args:
      images: [B, S, S, 3] uint8 RGB (or float in 0..255), S divisible by 4.

    Returns:
      dict with "heatmap" (conv8) and, with fusion, "fusion": each
      [B, S/4, S/4, J] float32.
    """
    x = images.astype(self.dtype) * PIXEL_SCALE - PIXEL_CENTRE
    outs = apply_blocks(self.convs, self.pools, x, POOL, self.remat)
    feats = dict(zip(self.names, outs))
    x = outs[-1]
    heat = self.conv8(x)
    if self.final_relu:
      heat = nnx.relu(heat)
    out = {"heatmap": heat.astype(jnp.float32)}
    if self.fusion is not None:
      fused = self.fusion(jnp.concatenate([feats[n] for n in FUSION_INPUTS], axis=-1))
      out["fusion"] = fused.astype(jnp.float32)
    return out


def render_heatmaps(coords: jax.Array, size: int, sigma: float = DEFAULT_SIGMA) -> jax.Array:
  """coords [B, J, 2] (x, y) heatmap grid -> [B, size, size, J] unit-peak Gaussians."""
  grid = jnp.arange(size, dtype=jnp.float32)
  dx = grid[None, None, :] - coords[..., 0:1]  # [B, J, W]
  dy = grid[None, None, :] - coords[..., 1:2]  # [B, J, H]
  g = jnp.exp(-(dy[..., :, None] ** 2 + dx[..., None, :] ** 2) / (2.0 * sigma ** 2))  # [B, J, H, W]
  return jnp.transpose(g, (0, 2, 3, 1))


OUTPUT_PRIORITY = ("pooled", "fusion", "heatmap")


def final_heatmaps(outputs: dict[str, jax.Array], size: int | None = None) -> jax.Array:
  """The model's answer [B, h, w, J]: flow-pooled maps, else fusion, else conv8.

  A coordinate regressor's "coords" [B, J, 2] (``CoordinateNet``) are
  rendered as Gaussian maps of side ``size`` (h), so every model is read
  through the same heatmap decoder.
  """
  if "coords" in outputs:
    if size is None:
      raise ValueError("final_heatmaps of a coordinate output needs the map side `size`")
    return render_heatmaps(outputs["coords"], size)
  return outputs[next(k for k in OUTPUT_PRIORITY if k in outputs)]
