"""Runs of consecutive frames, and the temporal windows clipped to them.

One home for the rule every temporal window follows: frames t-n .. t+n,
clipped to t's run, so that near a run's ends the available neighbours repeat
and a window never crosses into another run. A run is a video's consecutive
records (``flowpose_jax.data.windows.video_layout``: split where the video id
changes or ``frame_index`` skips) or a shot of one video
(``flowpose_jax.flow.shots.shot_runs``: split at the cuts).
"""

from __future__ import annotations

import numpy as np


def frame_runs(ids: np.ndarray, frame_indices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
  """The run of each frame: frames in order, a run ending where ``ids`` changes.

  Args:
    ids: [N] int (video or shot ids, grouped).
    frame_indices: optional [N] int; a run also ends where it does not
      increase by exactly 1 (a gap), where both sides are known (>= 0).

  Returns:
    starts [N] int64, ends [N] int64: frame i's run is ``[starts[i], ends[i])``.
  """
  ids = np.asarray(ids, np.int64)
  if len(ids) == 0:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)
  brk = ids[1:] != ids[:-1]
  if frame_indices is not None:
    fr = np.asarray(frame_indices, np.int64)
    known = (fr[1:] >= 0) & (fr[:-1] >= 0)
    brk |= known & (fr[1:] != fr[:-1] + 1)
  first = np.concatenate([[0], np.flatnonzero(brk) + 1])  # run starts
  last = np.concatenate([first[1:], [len(ids)]])
  run = np.cumsum(np.concatenate([[False], brk]))  # run id of each frame
  return first[run], last[run]


def window_bounds(i: int, n: int, starts: np.ndarray, ends: np.ndarray) -> tuple[int, int]:
  """``[lo, hi)``: the frames of i-n .. i+n inside i's run ``[starts[i], ends[i])``."""
  return max(int(starts[i]), i - n), min(int(ends[i]), i + n + 1)


def window_indices(i: int, n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
  """[2n+1] int64 frame indices i-n .. i+n clipped to i's run (edge frames repeat).

  A causal window (frames <= i only) is the window of ``ends`` = ``min(ends, i + 1)``.
  """
  lo, hi = window_bounds(i, n, starts, ends)
  return np.clip(np.arange(i - n, i + n + 1), lo, hi - 1).astype(np.int64)
