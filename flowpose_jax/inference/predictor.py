"""``flowpose_jax.load(workdir)`` -> a ``Predictor``: the per-frame model, person search and the
flowing video pipeline behind one object."""

from __future__ import annotations

import numpy as np

from flowpose_jax import heatmaps as codec, workdir as workdir_lib
from flowpose_jax.errors import InputError
from flowpose_jax.inference import person, video
from flowpose_jax.inference.batching import DEFAULT_BATCH
from flowpose_jax.inference.inputs import as_frames, frame_sizes
from flowpose_jax.inference.model import FrameModel


class Predictor(FrameModel):
  """A ``FrameModel`` that also finds the person (``person``) and runs videos (``video``)."""

  @property
  def default_passes(self) -> int:
    """Whole-frame passes without a box (``person.default_passes``)."""
    return person.default_passes(self.config)

  def person_boxes(self, frames, passes: int = 2) -> np.ndarray:
    """[T, 4] boxes of the main person in whole frames (``person.person_boxes``)."""
    return person.person_boxes(self, frames, passes)

  def flowing_heatmaps(self, frames, boxes=None, **flow_kwargs) -> np.ndarray:
    """[T, h, w, 7] flowing heatmaps of one video (``video.flowing_maps``: source, mode, causal, ...)."""
    return video.flowing_maps(self, frames, boxes, **flow_kwargs)[0]

  def joints(self, frames, boxes=None, *, flow: bool = False, passes: int | None = None, **flow_kwargs
             ) -> tuple[np.ndarray, np.ndarray]:
    """frames [T, H, W, 3] uint8 -> joints [T, 7, 2] (x, y) in each frame's px, confidence [T, 7].

    ``boxes`` [T, 4]: the person's region in each frame (one pass). Without
    boxes, ``passes`` (default ``default_passes``) decides: 1 letterboxes the
    whole frame; 2 or more first find the person (``person_boxes``) and
    predict on the crop around them.
    Joints stay in the frame: a peak that decodes into the letterbox padding
    (or outside the frame, with a box) is clipped to the frame's border
    pixel; its confidence (the heatmap peak) is kept as it is.
    ``flow``: use the temporal stage (``video.flowing_maps``; kwargs go there)
    for the final pass; the frames are one video, so the found boxes are
    smoothed over time first (``person.smooth_boxes``), within its shots.
    A flowing model without ``flow`` predicts with its single-frame part.
    """
    passes = self.default_passes if passes is None else int(passes)
    if passes < 1:
      raise InputError(f"passes={passes}: give 1 (the whole frame) or more (find the person, then crop)")
    frames = as_frames(frames)
    if flow:  # one video: find its shots once, for the boxes and the windows
      flow_kwargs["shots"] = video.video_shots(frames, flow_kwargs.get("shots", "detect"))
    if boxes is None and passes > 1:
      boxes = self.person_boxes(frames, passes)
      if flow:  # a steady crop keeps the flow between neighbouring crops small
        boxes = person.smooth_boxes(boxes, shots=flow_kwargs["shots"])
    if flow:
      hm, mats = video.flowing_maps(self, frames, boxes, **flow_kwargs)
    else:
      inputs, mats = self.preprocess(frames, boxes)
      hm = self.frame_maps(inputs)
    return codec.decode_to_frame(hm, mats, self.stride, frame_sizes(frames))


def load(workdir: str, *, step: int | None = None, batch_size: int = DEFAULT_BATCH) -> Predictor:
  """Loads the latest (or given) checkpoint of a training workdir."""
  trained = workdir_lib.load(workdir, step)
  return Predictor(trained.config, trained.graphdef, trained.params, batch_size=batch_size)
