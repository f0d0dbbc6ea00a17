"""Shot cuts in a video: where the picture jumps and optical flow means nothing.

Edited footage (TV, BBC Pose's broadcasts) cuts from one camera to another.
Flow between the two sides of a cut is noise, so the Flowing ConvNet must not
warp heatmaps across it, and a person box smoothed over time must not carry
one shot's crop into the next. ``shot_ids`` numbers the shots of a video;
``flowpose_jax.inference`` clips every temporal window and box median to the
centre frame's shot (``shot_runs``, ``flowpose_jax.flow.runs``), as it clips
them at the ends of the video.

The detector compares colour histograms of consecutive frames, per cell of a
2x2 grid of a 96 px thumbnail (HSV, 12 x 4 x 4 bins; the distance is the
Hellinger distance, mean over cells, in [0, 1]). Motion within a shot (a person
moving, a camera panning or zooming) changes the histograms a little; a cut
to another view changes them a lot. A frame starts a new shot where its
distance to the previous frame is at least ``threshold`` and at least
``ratio`` times the median distance over the ``radius`` frames on each side
(busy footage raises the bar). Measured distances (at 320x180, as in
``tests/flow/test_shots.py``): within the real clips of ``../shared/data`` (a
presenter, a dancer, a hand-held goalkeeper clip) at most 0.133; at a splice
of two of them 0.95; at the synthetic generator's cuts
(``RenderParams.shot_cuts``: another background and framing; 12 videos of
``PHOTO_CUTS`` at 72x128) at least 0.53, against at most 0.15 between frames
of a shot. A cut that keeps the scene and only reframes it (a zoom within
the same room) can stay below the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from flowpose_jax.flow.runs import frame_runs

THUMBNAIL_PX = 96  # long side of the thumbnail the histograms are taken on
GRID = 2  # cells per side
BINS = (12, 4, 4)  # hue, saturation, value
THRESHOLD = 0.35
RATIO = 3.0
RADIUS = 5


def _histograms(frame: np.ndarray) -> np.ndarray:
  """[H, W, 3] uint8 RGB -> [GRID * GRID, prod(BINS)] float32, each row summing to 1."""
  h, w = frame.shape[:2]
  s = THUMBNAIL_PX / max(h, w)
  thumb = cv2.resize(frame, (max(GRID, round(w * s)), max(GRID, round(h * s))), interpolation=cv2.INTER_AREA)
  hsv = cv2.cvtColor(thumb, cv2.COLOR_RGB2HSV)
  th, tw = hsv.shape[:2]
  cells = []
  for i in range(GRID):
    for j in range(GRID):
      cell = np.ascontiguousarray(hsv[i * th // GRID:(i + 1) * th // GRID, j * tw // GRID:(j + 1) * tw // GRID])
      hist = cv2.calcHist([cell], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256]).ravel()
      cells.append(hist / max(float(hist.sum()), 1.0))
  return np.stack(cells).astype(np.float32)


def cut_scores(frames: Sequence[np.ndarray]) -> np.ndarray:
  """frames [T, H, W, 3] uint8 RGB -> [T] float32: distance of frame t to frame t-1 (0 for t = 0).

  The Hellinger distance of the frames' colour histograms, mean over the
  cells of a 2x2 grid; in [0, 1].
  """
  hists = [_histograms(np.asarray(f)) for f in frames]
  out = np.zeros(len(hists), np.float32)
  for t in range(1, len(hists)):
    bc = np.sum(np.sqrt(hists[t - 1] * hists[t]), axis=1)
    out[t] = np.mean(np.sqrt(np.clip(1.0 - bc, 0.0, 1.0)))
  return out


def cuts_from_scores(scores: np.ndarray, threshold: float = THRESHOLD, ratio: float = RATIO,
                     radius: int = RADIUS) -> np.ndarray:
  """[T] float ``cut_scores`` -> [T] bool, True where frame t starts a new shot (never t = 0)."""
  scores = np.asarray(scores, np.float64)
  cut = np.zeros(len(scores), bool)
  for t in range(1, len(scores)):
    around = np.concatenate([scores[max(1, t - radius):t], scores[t + 1:t + radius + 1]])
    base = float(np.median(around)) if around.size else 0.0
    cut[t] = scores[t] >= threshold and scores[t] >= ratio * base
  return cut


def shot_ids(frames: Sequence[np.ndarray], **kwargs) -> np.ndarray:
  """frames [T, H, W, 3] uint8 RGB (one video) -> [T] int64 shot index, 0, 0, ..., 1, 1, ...

  kwargs: ``threshold``, ``ratio``, ``radius`` of ``cuts_from_scores``.
  """
  return np.cumsum(cuts_from_scores(cut_scores(frames), **kwargs)).astype(np.int64)


def shot_runs(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """[T] int shot ids (non-decreasing) -> starts [T], ends [T]: frame t's shot is ``[starts[t], ends[t])``."""
  ids = np.asarray(ids)
  if np.any(np.diff(ids) < 0):
    raise ValueError("shot ids must not decrease along the video")
  return frame_runs(ids)
