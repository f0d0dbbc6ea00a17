"""The Flowing ConvNet: per-frame HeatmapNet -> warp to the centre frame -> pooling.

For a window of T = 2n+1 frames centred on frame t, the (fusion) heatmaps of
every frame are warped onto frame t along the flow t -> t+k (heatmap grid,
backward sampling: ``H_{t+k}(x + F_{t->t+k}(x))``), stacked and combined per
joint by a temporal pooler (the paper's learned conv9, or sum/max baselines,
or our data-dependent pooling).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from flowpose_jax.models.heatmap_net import HeatmapNet, final_heatmaps
from flowpose_jax.models.pooling import POOLING, stack_and_warp


class FlowingNet(nnx.Module):
  """HeatmapNet over a window + warping + temporal pooling.

  Args:
    num_frames: T = 2n+1.
    pooling: key of ``POOLING``.
    finetune_spatial: let the pooled loss's gradient reach the HeatmapNet
      (False: the per-frame maps are constants to the pooled loss, as in the
      paper's precomputed pipeline; the optimizer can freeze them too).
    Other args as ``HeatmapNet``.
  """

  INPUTS = ("images", "flows", "confidence")
  # Batch keys of ``pool_maps``: the frozen HeatmapNet's maps computed once per record
  # (``windows.frame_maps``, ``config.flow.maps = "precomputed"``) instead of frames.
  MAP_INPUTS = ("maps", "flows", "confidence")

  def __init__(self, *, num_frames: int, pooling: str = "parametric", finetune_spatial: bool = False,
               num_joints: int = 7, width: float = 1.0, fusion: str = "release", final_relu: bool = False,
               dtype: str = "float32", remat: bool = False, rngs: nnx.Rngs):
    if pooling not in POOLING:
      raise ValueError(f"unknown pooling {pooling!r}; choose one of {sorted(POOLING)}")
    if num_frames < 1 or num_frames % 2 == 0:
      raise ValueError(f"num_frames must be odd (2n+1), got {num_frames}")
    self.finetune_spatial = finetune_spatial
    self.spatial = HeatmapNet(num_joints=num_joints, width=width, fusion=fusion, final_relu=final_relu,
                              dtype=dtype, remat=remat, rngs=rngs)
    self.pool = POOLING[pooling](num_frames, num_joints, rngs=rngs)

  def __call__(self, images: jax.Array, flows: jax.Array, confidence: jax.Array | None = None
               ) -> dict[str, jax.Array]:
    """Runs the window.

    Args:
      images: [B, T, S, S, 3] uint8 frames of the window (centre at T // 2).
      flows: [B, T, h, w, 2] flow centre -> frame, heatmap px (zero at the centre).
      confidence: [B, T, h, w, 1] per-pixel flow confidence in [0, 1], or None.

    Returns:
      "heatmap", "fusion": the centre frame's single-frame outputs [B, h, w, J];
      "pooled": the flowing heatmaps [B, h, w, J].
    """
    b, t = images.shape[:2]
    out = self.spatial(images.reshape((b * t,) + images.shape[2:]))
    maps = final_heatmaps(out)
    maps = maps.reshape((b, t) + maps.shape[1:])
    if not self.finetune_spatial:
      maps = jax.lax.stop_gradient(maps)
    centre = t // 2
    result = {k: v.reshape((b, t) + v.shape[1:])[:, centre] for k, v in out.items()}
    result.update(self.pool_maps(maps, flows, confidence))
    return result

  def pool_maps(self, maps: jax.Array, flows: jax.Array, confidence: jax.Array | None = None
                ) -> dict[str, jax.Array]:
    """The flowing part alone, on per-frame maps: warp to the centre frame and pool.

    Args:
      maps: [B, T, h, w, J] each window frame's HeatmapNet maps (``final_heatmaps``
        of ``self.spatial``), e.g. precomputed once per record.
      flows, confidence: as ``__call__``.

    Returns:
      {"pooled": [B, h, w, J]}.
    """
    warped, valid = stack_and_warp(maps, flows)
    conf = valid if confidence is None else valid * confidence.astype(jnp.float32)
    return {"pooled": self.pool(warped, conf)}


def flowing_parts(graphdef):
  """A flowing model's two exportable halves, as pure functions of its params.

  Returns:
    frame(params, images [B, S, S, 3] uint8) -> per-frame maps [B, h, w, J]
      (the HeatmapNet's final maps: fusion, else conv8), run once per frame;
    pool(params, maps [B, T, h, w, J], flows [B, T, h, w, 2], confidence
      [B, T, h, w, 1]) -> pooled [B, h, w, J]: the T = 2n+1 window's maps warped
      to its centre along heatmap-grid flow centre -> frame (zero at the centre,
      ``windows.flows_to_heatmap``) and pooled. ``params`` is the whole model's.
  """

  def frame(params, images):
    return final_heatmaps(nnx.merge(graphdef, params).spatial(images))

  def pool(params, maps, flows, confidence):
    return nnx.merge(graphdef, params).pool_maps(maps, flows, confidence)["pooled"]

  return frame, pool
