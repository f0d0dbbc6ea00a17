"""Person search in whole frames: the passes that find the crop a model predicts on.

A model trained on person crops sees a whole frame letterboxed: pass 1 finds
the person coarsely, each further pass crops around the previous pass's
joints (``person_boxes``); the caller's final pass predicts on the last crop.
In a video the found boxes are smoothed over time (``smooth_boxes``).
"""

from __future__ import annotations

import numpy as np

from flowpose_jax import heatmaps as codec
from flowpose_jax.flow import runs, shots as shots_lib
from flowpose_jax.inference.inputs import as_frames, frame_sizes, overlaps_frame
from flowpose_jax.joints import joints_box

# Joints of a pass at least this confident (map peak; a target peak is 1) make the next pass's crop.
PERSON_MIN_CONFIDENCE = 0.1
# Whole-frame passes of a crop-trained model: find the person on the
# letterboxed frame, crop around them, then re-crop once around the joints of
# that crop (the coarse pass's box is too small on unseen footage: median 0.85
# of the true box on Buffy episode 4). The third pass gained 0.6-4.3 points
# at 20 px there on each of three models, with and without flip test
# (benchmarks/results/realpose.md); ``passes=2`` is a third faster.
CROP_PASSES = 3
# The second pass's margin for workdirs saved before ``input.joints_margin``
# existed (configs/common.py's default then).
LEGACY_JOINTS_MARGIN = 0.4
BOX_SMOOTHING_RADIUS = 2  # flowing video inference: median of the found boxes over 2r+1 frames


def default_passes(config) -> int:
  """Passes over a whole frame without a box: ``CROP_PASSES`` for a model
  whose single-frame part was trained on person crops (``input.crop`` "box" /
  "joints"; a flowing stage's ``input.spatial_crop``, filled at training from
  its ``init_from``), 1 for one trained on whole frames."""
  crop = config.input.get("spatial_crop") or config.input.crop
  return 1 if crop == "frame" else CROP_PASSES


def box_or_frame(found: np.ndarray, conf: np.ndarray, frame_hw, margin: float) -> np.ndarray:
  """The next pass's crop [4] float32 from one frame's joints [J, 2] frame px and
  confidences [J]: the box of the confident joints grown by ``margin``
  (``joints.joints_box``), or the whole frame where fewer than two were found
  or the box misses the frame (``inputs.overlaps_frame``)."""
  box = joints_box(found, conf >= PERSON_MIN_CONFIDENCE, margin=margin)
  if box is None or not overlaps_frame(box, frame_hw):
    h, w = frame_hw
    return np.array([0, 0, w - 1, h - 1], np.float32)
  return box


def person_boxes(model, frames, passes: int = 2) -> np.ndarray:
  """Finds the main person in whole frames: the crop of the last pass.

  Pass 1 letterboxes the whole frame; its maps are narrowed to the person
  with the strongest head peak (``heatmaps.focus_on_person``) and decoded;
  the box of the joints with confidence >= ``PERSON_MIN_CONFIDENCE`` grown by
  ``config.input.joints_margin`` x its larger side (``box_or_frame``, the rule
  the model was trained with) is the next pass's crop. Each further pass
  re-crops from the previous one's joints (decoded without the focus: a crop
  is centred on its person, and the prior would pull far wrists in).

  Args:
    model: a ``model.FrameModel`` (its per-frame maps: a flowing model's single-frame part).
    frames: [T, H, W, 3] uint8 (or a list of differently sized frames).
    passes: total passes including the final one the caller runs (>= 2).

  Returns:
    boxes [T, 4] float32 (x0, y0, x1, y1) frame px; the whole frame where
    fewer than two joints were found.
  """
  frames = as_frames(frames)
  frame_hw = frame_sizes(frames)
  boxes = None
  margin = model.config.input.get("joints_margin", LEGACY_JOINTS_MARGIN)
  for k in range(passes - 1):
    inputs, mats = model.preprocess(frames, boxes)
    maps = model.frame_maps(inputs)
    if k == 0:  # the whole frame may show several people; a crop is centred on one already
      maps = codec.focus_on_person(maps)
    found, conf = codec.decode_to_frame(maps, mats, model.stride, frame_hw)
    boxes = np.stack([box_or_frame(j, c, f.shape[:2], margin) for j, c, f in zip(found, conf, frames)])
  return boxes


def smooth_boxes(boxes: np.ndarray, radius: int = BOX_SMOOTHING_RADIUS, shots: np.ndarray | None = None
                 ) -> np.ndarray:
  """A video's per-frame boxes [T, 4] -> [T, 4] float32, the running median over
  frames t-radius..t+radius (clipped at the ends and, with ``shots`` [T] int
  ids, at shot cuts: ``runs.window_bounds``), per coordinate: one bad coarse
  pass does not move the crop."""
  boxes = np.asarray(boxes, np.float32)
  starts, ends = shots_lib.shot_runs(np.zeros(len(boxes), np.int64) if shots is None else shots)
  out = [np.median(boxes[slice(*runs.window_bounds(i, radius, starts, ends))], 0) for i in range(len(boxes))]
  return np.stack(out).astype(np.float32) if out else boxes
