"""Precomputed per-frame maps for a flowing stage with ``config.flow.maps = "precomputed"``.

The frozen HeatmapNet runs once per record (its evaluation view and mirror
image) instead of on every window frame at every step, as the paper's
pipeline precomputed them. Used by training and by ``flowpose evaluate``.
"""

from __future__ import annotations

import jax
import numpy as np

from flowpose_jax import parallel
from flowpose_jax.data import windows
from flowpose_jax.models import flowing_parts


def precompute_maps(graphdef, params, source, config, *, desc: str = "frame maps") -> np.ndarray:
  """``windows.frame_maps`` of a flowing model's HeatmapNet over every record of ``source``.

  Returns [N, windows.MAP_VIEWS, h, h, J] float32, for windows with
  ``config.flow.maps = "precomputed"`` (jitted over this process's devices).
  """
  frame, _ = flowing_parts(graphdef)
  predict = parallel.make_predict_fn(parallel.make_mesh(jax.local_devices()), frame, ("images",))
  return windows.frame_maps(lambda inputs: predict(params, inputs), source, config, desc=desc)


__all__ = ["precompute_maps"]
