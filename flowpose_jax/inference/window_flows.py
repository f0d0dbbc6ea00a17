"""Heatmap-grid flows of a video's temporal windows, computed by flow jobs in threads.

Flow mode "direct": a window's 2n flows t -> t+k (``windows.flows_to_heatmap``);
"composed": two flows per frame (t -> t+1 and t+1 -> t), chained along the
window at the heatmap points (``composed_window_flows``): fewer flows, drift
over long chains (benchmarks/flow_inference.py and flow_mode_accuracy.py
measure both). OpenCV releases the GIL, so flow threads overlap the network.
"""

from __future__ import annotations

import concurrent.futures

import numpy as np

from flowpose_jax import heatmaps as codec
from flowpose_jax.data import windows
from flowpose_jax.flow import compute


class InlineExecutor:
  """``concurrent.futures`` executor that runs each job when it is submitted (``flow_workers=0``)."""

  def submit(self, fn, *args) -> concurrent.futures.Future:
    future = concurrent.futures.Future()
    try:
      future.set_result(fn(*args))
    except Exception as e:  # pylint: disable=broad-except  (re-raised by result(), as a thread pool does)
      future.set_exception(e)
    return future

  def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
    del wait, cancel_futures


def composed_window_flows(centre: int, indices: np.ndarray, forward, backward, points: np.ndarray,
                          frame_hw: tuple[int, int], matrix: np.ndarray, stride: int
                          ) -> tuple[np.ndarray, np.ndarray]:
  """A window's heatmap-grid flows from consecutive flows chained at the heatmap points.

  Each heatmap pixel's frame point is followed through the consecutive flows
  (``compute.track_points``), so a window costs 2n samplings of h*h points
  instead of 2n flows.

  Args:
    centre: the window's centre frame t.
    indices: [T] int, the window's frames (clipped; repeats of t get zero flow).
    forward: [H, W, 2] flows t -> t+1, t+1 -> t+2, ... up to ``indices.max()``.
    backward: [H, W, 2] flows t -> t-1, t-1 -> t-2, ... down to ``indices.min()``.
    points: [h*h, 2] ``heatmaps.heatmap_points`` of the window's matrix.
    frame_hw: (H, W) of the frames the flows are on.
    matrix: [2, 3] frame -> input affine; stride: input px per heatmap px.

  Returns:
    flows [T, h, h, 2] float32 heatmap px, centre -> frame (0 where unknown),
    confidence [T, h, h, 1] float32: 1 where the point, every point of its
    chain and its target lie inside the frame (as ``flows_to_heatmap``).
  """
  disp = {centre: np.zeros(points.shape, np.float32)}
  for sign, steps in ((1, forward), (-1, backward)):
    for k, d in enumerate(compute.track_points(steps, points[:, 0], points[:, 1]), 1):
      disp[centre + sign * k] = d
  out = np.stack([disp[int(j)] for j in indices]).astype(np.float64)  # [T, h*h, 2] frame px
  height, width = frame_hw
  with np.errstate(invalid="ignore"):
    known = np.isfinite(out).all(-1)
    for p in (points, points + out):
      known &= (p[..., 0] >= 0) & (p[..., 0] <= width - 1) & (p[..., 1] >= 0) & (p[..., 1] <= height - 1)
  grid = np.where(known[..., None], out @ np.asarray(matrix, np.float64)[:, :2].T / stride, 0.0)
  h = int(round(np.sqrt(len(points))))
  return (grid.reshape(len(indices), h, h, 2).astype(np.float32),
          known.reshape(len(indices), h, h, 1).astype(np.float32))


class WindowFlows:
  """A video's window flows, queued as jobs (``submit``) and read in order (``collect``).

  Args:
    frames: [T, H, W, 3] uint8, the images flow is computed between.
    matrices: [T, 2, 3] their frame -> network input affines.
    indices: [T] windows, each [2n+1] int frame indices (``runs.window_indices``).
    source: an OpenCV flow method (``compute.METHODS``); mode: ``compute.MODES``.
    size, stride: network input side and input px per heatmap px.
    spread: motion spread, input px (direct mode; ``windows.flows_to_heatmap``).
    executor: runs the jobs (a thread pool, or ``InlineExecutor``).
    stopwatch: the flow jobs' seconds are added under "flow_s" (summed over threads).
  """

  def __init__(self, frames, matrices, indices, *, source: str, mode: str, size: int, stride: int,
               spread: float, executor, stopwatch):
    self.frames, self.matrices, self.indices = frames, matrices, indices
    self.source, self.mode, self.size, self.stride, self.spread = source, mode, size, stride, spread
    self.executor, self.stopwatch = executor, stopwatch
    self._jobs, self._steps = {}, {}  # t -> future of window t; (t, ±1) -> future of flow t -> t±1

  def __enter__(self) -> WindowFlows:
    return self

  def __exit__(self, *exc) -> None:
    self.executor.shutdown(wait=True, cancel_futures=True)

  def submit(self, start: int, stop: int) -> None:
    """Queues the flows of windows ``start .. stop - 1`` (inline: computes them now)."""
    if self.mode == "direct":
      for t in range(start, stop):
        self._jobs[t] = self.executor.submit(self.stopwatch.timed, "flow_s", self._direct, t)
      return
    # Every step is queued before the windows that wait on it, and a thread pool starts jobs in
    # order: a waiting window's steps are already running or done, so it cannot deadlock.
    chains = {t: ([self._step(j, 1) for j in range(t, int(self.indices[t].max()))],
                  [self._step(j, -1) for j in range(t, int(self.indices[t].min()), -1)])
              for t in range(start, stop)}
    for t, (forward, backward) in chains.items():
      self._jobs[t] = self.executor.submit(self._composed, t, forward, backward)

  def collect(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Waits for windows ``start .. stop - 1``: flows [N, T, h, h, 2], confidence [N, T, h, h, 1]."""
    grids, confs = zip(*[self._jobs.pop(t).result() for t in range(start, stop)])
    n = (len(self.indices[0]) - 1) // 2
    for key in [k for k in self._steps if k[0] < stop - n]:  # no window still to come chains from these
      del self._steps[key]
    return np.stack(grids), np.stack(confs)

  def _direct(self, t: int) -> tuple[np.ndarray, np.ndarray]:
    frames = self.frames
    flows = np.stack([np.zeros(frames[t].shape[:2] + (2,), np.float32) if j == t
                      else compute.flow_between(frames[t], frames[j], self.source) for j in self.indices[t]])
    return windows.flows_to_heatmap(flows, self.matrices[t], self.size, self.stride, self.spread)

  def _composed(self, t: int, forward, backward) -> tuple[np.ndarray, np.ndarray]:
    return composed_window_flows(
        t, self.indices[t], [f.result() for f in forward], [f.result() for f in backward],
        codec.heatmap_points(self.matrices[t], self.size, self.stride), self.frames[t].shape[:2],
        self.matrices[t], self.stride)

  def _step(self, t: int, sign: int) -> concurrent.futures.Future:
    if (t, sign) not in self._steps:
      self._steps[t, sign] = self.executor.submit(self.stopwatch.timed, "flow_s", compute.flow_between,
                                                  self.frames[t], self.frames[t + sign], self.source)
    return self._steps[t, sign]
