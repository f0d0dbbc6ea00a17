"""CoordinateNet: the paper's baseline that regresses joint coordinates directly.

Pfister et al. (ACCV 2014), "an architecture similar to OverFeat": five
convolutions and three fully connected layers, L2 on the 14 coordinates. The
layer list is not in the sources (docs/paper.md §1), so this is
AlexNet's, on the same input as HeatmapNet:

  conv1 11x11/4 96 - pool 3x3/2 - conv2 5x5 256 - pool 3x3/2 - conv3 3x3 384 -
  conv4 3x3 384 - conv5 3x3 256 - pool 3x3/2 - resize to 6x6 - fc6 4096 -
  fc7 4096 - fc8 2J

('same' padding, ReLU after every layer but fc8; channel and fc widths scale
with ``width``; the antialiased resize to a fixed 6 x 6 grid, AlexNet's
adaptive pooling, makes the fc sizes independent of the input side). No dropout: the step stays a pure function of params and
batch, so a resumed run is bit-identical; regularise with
``optimizer.weight_decay`` instead.

Output: "coords" [B, J, 2] float32, (x, y) on the heatmap grid of the same
input (side h = S / 4, pixel centres at integers, as ``heatmaps`` defines),
so targets, evaluation and inference are shared with HeatmapNet: for those,
``heatmap_net.final_heatmaps`` renders the coordinates as Gaussian maps
(``heatmap_net.render_heatmaps``), which ``heatmaps.decode`` returns within 0.05 px.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from flowpose_jax.models import layers
from flowpose_jax.models.heatmap_net import DTYPES, OUTPUT_STRIDE, PIXEL_CENTRE, PIXEL_SCALE, apply_blocks

# (kernel, stride, output channels, max-pool after).
CONV_LAYERS: tuple[tuple[int, int, int, bool], ...] = (
    (11, 4, 96, True),
    (5, 1, 256, True),
    (3, 1, 384, False),
    (3, 1, 384, False),
    (3, 1, 256, True),
)
FC_WIDTH = 4096
HEAD_INIT = 1e-3  # stddev of fc8's initial kernel
FC_GRID = 6  # conv features are resized to FC_GRID x FC_GRID before fc6 (AlexNet)
POOL = dict(window_shape=(3, 3), strides=(2, 2), padding="SAME")


class CoordinateNet(nnx.Module):
  """Frame -> joint coordinates (the paper's regression baseline).

  Args:
    num_joints: J (7 for BBC Pose).
    width: channel / fc multiplier (1.0 = AlexNet's sizes).
    dtype: compute dtype name; params stay float32.
    remat: recompute each conv block in the backward pass (as ``HeatmapNet``).
  """

  INPUTS = ("image",)

  def __init__(self, *, num_joints: int = 7, width: float = 1.0, dtype: str = "float32",
               remat: bool = False, rngs: nnx.Rngs):
    if dtype not in DTYPES:
      raise ValueError(f"model.dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    self.dtype = DTYPES[dtype]
    self.num_joints = num_joints
    self.remat = remat
    self.pools = tuple(pool for *_, pool in CONV_LAYERS)
    self.convs = nnx.List([])
    c = 3
    for kernel, stride, out, _ in CONV_LAYERS:
      out = layers.scaled(out, width)
      self.convs.append(nnx.Conv(c, out, (kernel, kernel), strides=stride, padding="SAME",
                                 dtype=self.dtype, rngs=rngs))
      c = out
    flat = FC_GRID * FC_GRID * c
    fc = layers.scaled(FC_WIDTH, width)
    self.fc6 = nnx.Linear(flat, fc, dtype=self.dtype, rngs=rngs)
    self.fc7 = nnx.Linear(fc, fc, dtype=self.dtype, rngs=rngs)
    # A near-zero head: every joint starts close to the map centre (gradients still reach fc7).
    self.fc8 = nnx.Linear(fc, 2 * num_joints, dtype=self.dtype, kernel_init=nnx.initializers.normal(HEAD_INIT),
                          rngs=rngs)

  def __call__(self, images: jax.Array) -> dict[str, jax.Array]:
    """images [B, S, S, 3] uint8 RGB -> {"coords": [B, J, 2] float32 heatmap grid (x, y)}."""
    x = images.astype(self.dtype) * PIXEL_SCALE - PIXEL_CENTRE
    x = apply_blocks(self.convs, self.pools, x, POOL, self.remat)[-1]
    x = jax.image.resize(x, (x.shape[0], FC_GRID, FC_GRID, x.shape[-1]), "linear", antialias=True)
    x = x.reshape(x.shape[0], -1)
    x = nnx.relu(self.fc7(nnx.relu(self.fc6(x))))
    unit = self.fc8(x).astype(jnp.float32).reshape(-1, self.num_joints, 2)  # [-1, 1] spans the map
    h = images.shape[1] // OUTPUT_STRIDE
    return {"coords": (unit + 1.0) * 0.5 * (h - 1)}


__all__ = ["CoordinateNet", "CONV_LAYERS"]
