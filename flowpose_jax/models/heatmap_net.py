"""HeatmapNet (the paper's SpatialNet, conv1-conv8) with optional fusion.

Layer table of the authors' Caffe release (tpfister/caffe-heatmap,
models/heatmap-flic-fusion/train_val.prototxt): all convs stride 1, 'same'
padding, ReLU; 2x2/2 max-pool after conv1 and conv2, so a 256x256 input gives
64x64 maps (stride 4).

``output_stride=2`` (ours, for finer localisation; ``config.input.stride`` must
match): every output is the stride-4 map bilinearly upsampled 2x, and the final
one (fusion's, else conv8's) adds a residual ``refine`` head that reads the
upsampled maps beside conv1's pooled features (stride 2, the finest the net
keeps): 3x3 conv + ReLU, then a 3x3 conv to J maps whose weights start at zero,
so a stride-4 model loaded into it (``init_from``) starts with exactly its own
maps, upsampled. About 1 % more parameters and compute at width 0.25.
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
OUTPUT_STRIDE = 4  # the release's; ``output_stride=2`` adds the refine head
OUTPUT_STRIDES = (4, 2)
REFINE_KEY = "refine"  # the refine head's params; absent from stride-4 models (init_from keeps its start)
REFINE_CHANNELS = 128  # before the width multiplier
REFINE_FEATURES = "conv1"  # pooled once: stride 2
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
    output_stride: input px per output px, 4 (the release) or 2 (the refine
      head, module docstring).
  """

  INPUTS = ("image",)  # batch keys passed to __call__, in order

  def __init__(self, *, num_joints: int = 7, width: float = 1.0, fusion: str = "release",
               final_relu: bool = False, dtype: str = "float32", remat: bool = False, output_stride: int = OUTPUT_STRIDE,
               rngs: nnx.Rngs):
    if dtype not in DTYPES:
      raise ValueError(f"model.dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    if output_stride not in OUTPUT_STRIDES:
      raise ValueError(f"model.output_stride must be one of {OUTPUT_STRIDES}, got {output_stride!r}")
    self.output_stride = int(output_stride)
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
    if self.output_stride == OUTPUT_STRIDE:
      self.refine = None
    else:
      hidden = layers.scaled(REFINE_CHANNELS, width)
      last = layers.conv(hidden, num_joints, 3, dtype=self.dtype, rngs=rngs, head=True)
      last.kernel[...] = jnp.zeros_like(last.kernel[...])
      self.refine = nnx.List([layers.conv(channels[REFINE_FEATURES] + num_joints, hidden, 3, dtype=self.dtype,
                                          rngs=rngs), last])

  def __call__(self, images: jax.Array) -> dict[str, jax.Array]:
    """Runs the net.

    Args:
      images: [B, S, S, 3] uint8 RGB (or float in 0..255), S divisible by 4.

    Returns:
      dict with "heatmap" (conv8) and, with fusion, "fusion": each
      [B, S/s, S/s, J] float32, s = ``output_stride``.
    """
    x = images.astype(self.dtype) * PIXEL_SCALE - PIXEL_CENTRE
    outs = apply_blocks(self.convs, self.pools, x, POOL, self.remat)
    feats = dict(zip(self.names, outs))
    x = outs[-1]
    heat = self.conv8(x)
    if self.final_relu:
      heat = nnx.relu(heat)
    out = {"heatmap": heat}
    if self.fusion is not None:
      out["fusion"] = self.fusion(jnp.concatenate([feats[n] for n in FUSION_INPUTS], axis=-1))
    if self.refine is not None:
      out = {k: upsample2(v) for k, v in out.items()}
      final = "fusion" if "fusion" in out else "heatmap"
      x = jnp.concatenate([out[final].astype(self.dtype), feats[REFINE_FEATURES]], axis=-1)
      out[final] = out[final] + self.refine[1](nnx.relu(self.refine[0](x)))
    return {k: v.astype(jnp.float32) for k, v in out.items()}


def upsample2(maps: jax.Array) -> jax.Array:
  """[B, h, w, C] -> [B, 2h, 2w, C] bilinear, pixel centres aligned (heatmap px u at stride 4 and
  u' = 2u + 0.5 at stride 2 are the same input point, ``heatmaps.input_to_heatmap``).

  Output px 2i and 2i + 1 sit a quarter px either side of input px i, so they
  take 3/4 of it and 1/4 of its neighbour on that side (the border px repeats
  beyond the edge): ``jax.image.resize(..., "linear")``'s numbers, written
  with slices and a reshape so that exports with a symbolic batch size work.
  """
  def axis(x, ax):
    n = x.shape[ax]
    first, last = jax.lax.slice_in_dim(x, 0, 1, axis=ax), jax.lax.slice_in_dim(x, n - 1, n, axis=ax)
    before = jnp.concatenate([first, jax.lax.slice_in_dim(x, 0, n - 1, axis=ax)], axis=ax)
    after = jnp.concatenate([jax.lax.slice_in_dim(x, 1, n, axis=ax), last], axis=ax)
    pair = jnp.stack([0.75 * x + 0.25 * before, 0.75 * x + 0.25 * after], axis=ax + 1)
    shape = list(x.shape)
    shape[ax] = 2 * n
    return pair.reshape([-1] + shape[1:])

  return axis(axis(maps, 1), 2)


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
