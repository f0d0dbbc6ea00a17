"""Runs a predict function over eval batches and scores it (paper protocol).

The evaluator is given a predict function (big_vision style), so this module
never imports models: ``predict_fn(batch) -> heatmaps [B, h, w, J]``, where
``batch`` holds the model's inputs ("image" [B, S, S, 3] uint8 for
single-frame models; windows for the flowing model). Errors are measured in the ORIGINAL frame's pixels: decoded
heatmap peaks go heatmap grid -> network input -> frame through the inverse of
the affine each batch carries.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
from tqdm import tqdm

from flowpose_jax import heatmaps
from flowpose_jax.evaluate.pck import PCKAccumulator


def evaluate(predict_fn: Callable[[np.ndarray], np.ndarray], batches: Iterable[dict], *,
             stride: float, max_distance: int, scale: float | np.ndarray = 1.0, total: int | None = None,
             desc: str = "eval") -> dict:
  """Accuracy-vs-distance curves for d = 0..max_distance px.

  Args:
    predict_fn: batch -> heatmaps [B, h, w, J].
    batches: dicts with "image", "matrix" [B, 2, 3], "frame_joints" [B, J, 2],
      "frame_visible" [B, J] and optionally "_mask" [B] (padding).
    stride: input px per heatmap px.
    max_distance: largest d of the curve, in protocol px.
    scale: protocol units per frame px (BBC Pose scores at half resolution:
      0.5; see ``protocols``), or [N] per example in order (FLIC: 100 /
      torso size, i.e. errors in % of the torso); errors are measured in
      frame px times ``scale``.
    total: number of batches, for the progress bar.

  Returns:
    ``PCKAccumulator.result()`` plus "predictions": joints [N, J, 2] in frame px.
  """
  acc = PCKAccumulator(np.arange(max_distance + 1, dtype=np.float32))
  preds = []
  scales = np.asarray(scale, np.float32)
  seen = 0
  for batch in tqdm(batches, total=total, desc=desc, leave=False, unit="batch"):
    hm = np.asarray(predict_fn(batch))
    joints, _ = heatmaps.decode_to_frame(hm, batch["matrix"], stride)
    mask = np.asarray(batch.get("_mask", np.ones(len(joints), bool)), bool)
    visible = np.asarray(batch["frame_visible"], bool) & mask[:, None]
    s = scales
    if scales.ndim:  # per example: this batch's real rows, padding rows get 1
      s = np.ones(len(joints), np.float32)
      s[mask] = scales[seen:seen + int(mask.sum())]
      s = s[:, None, None]
    seen += int(mask.sum())
    acc.update(joints * s, np.asarray(batch["frame_joints"]) * s, visible)
    preds.append(joints[mask])
  result = acc.result()
  result["predictions"] = np.concatenate(preds) if preds else np.zeros((0, hm.shape[-1], 2), np.float32)
  return result
