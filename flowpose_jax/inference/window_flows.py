"""Heatmap-grid flows of a video's temporal windows, computed by flow jobs in threads.

Flow mode "direct": a window's 2n flows t -> t+k (``windows.flows_to_heatmap``);
"composed": two flows per frame (t -> t+1 and t+1 -> t), chained along the
window at the heatmap points (``composed_window_flows``): fewer flows, drift
over long chains (benchmarks/flow_inference.py and flow_mode_accuracy.py
measure both). OpenCV releases the GIL, so flow threads overlap the network.

Confidence "fb" (``compute.CONFIDENCES``, as the model was trained): direct
mode computes each pair's reverse flow too (twice the flows); composed mode
tests each consecutive flow against the reverse one it computes anyway, and a
chain's confidence is the product of its steps' at the points it passes.
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
    forward: [H, W, C] flows t -> t+1, t+1 -> t+2, ... up to ``indices.max()``;
      C = 2, or 3 with a confidence channel (``compute.with_fb_confidence``).
    backward: [H, W, C] flows t -> t-1, t-1 -> t-2, ... down to ``indices.min()``.
    points: [h*h, 2] ``heatmaps.heatmap_points`` of the window's matrix, or
      [K, h*h, 2] with the motion-spread offsets (``windows.spread_offsets``,
      offset 0 at K // 2): every sample is tracked and each pixel takes its
      known sample of largest displacement, provided its own point is known
      (``windows.flows_to_heatmap``'s rule, on the chained flow).
    frame_hw: (H, W) of the frames the flows are on.
    matrix: [2, 3] frame -> input affine; stride: input px per heatmap px.

  Returns:
    flows [T, h, h, 2] float32 heatmap px, centre -> frame (0 where unknown),
    confidence [T, h, h, 1] float32: 1 where the point, every point of its
    chain and its target lie inside the frame (as ``flows_to_heatmap``),
    else 0; with C = 3 times the product of the steps' confidences.
  """
  channels = (forward[0] if forward else backward[0] if backward else np.zeros((1, 1, 2))).shape[-1]
  samples = points if points.ndim == 3 else points[None]  # [K, h*h, 2]
  flat = samples.reshape(-1, 2)
  start = np.zeros((len(flat), channels), np.float32)
  start[:, 2:] = 1.0
  disp = {centre: start}
  for sign, steps in ((1, forward), (-1, backward)):
    for k, d in enumerate(compute.track_points(steps, flat[:, 0], flat[:, 1]), 1):
      disp[centre + sign * k] = d
  tracked = np.stack([disp[int(j)] for j in indices]).astype(np.float64)  # [T, K*h*h, C]
  tracked = tracked.reshape(len(indices), *samples.shape[:2], channels)  # [T, K, h*h, C]
  out = tracked[..., :2]  # frame px
  height, width = frame_hw
  with np.errstate(invalid="ignore"):
    known = np.isfinite(out).all(-1)
    for p in (samples, samples + out):
      known &= (p[..., 0] >= 0) & (p[..., 0] <= width - 1) & (p[..., 1] >= 0) & (p[..., 1] <= height - 1)
  best = np.argmax(np.where(known, np.hypot(out[..., 0], out[..., 1]), -1.0), axis=1)  # [T, h*h]
  pick = best[:, None, :, None]
  tracked = np.take_along_axis(tracked, pick, axis=1)[:, 0]  # [T, h*h, C]
  known = np.take_along_axis(known[..., None], pick, axis=1)[:, 0, :, 0] & known[:, len(samples) // 2]
  out = tracked[..., :2]
  grid = np.where(known[..., None], out @ np.asarray(matrix, np.float64)[:, :2].T / stride, 0.0)
  conf = known.astype(np.float64)
  if channels == 3:
    conf = np.where(known, np.clip(tracked[..., 2], 0.0, 1.0), 0.0)
  h = int(round(np.sqrt(samples.shape[1])))
  return (grid.reshape(len(indices), h, h, 2).astype(np.float32),
          conf.reshape(len(indices), h, h, 1).astype(np.float32))


class WindowFlows:
  """A video's window flows, queued as jobs (``submit``) and read in order (``collect``).

  Args:
    frames: [T, H, W, 3] uint8, the images flow is computed between.
    matrices: [T, 2, 3] their frame -> network input affines.
    indices: [T] windows, each [2n+1] int frame indices (``runs.window_indices``).
    source: an OpenCV flow method (``compute.METHODS``); mode: ``compute.MODES``.
    size, stride: network input side and input px per heatmap px.
    spread: motion spread, input px (``windows.flows_to_heatmap``; composed mode
      tracks every spread sample, ``composed_window_flows``).
    confidence: ``compute.CONFIDENCES``: "valid", or "fb" (module docstring).
    executor: runs the jobs (a thread pool, or ``InlineExecutor``).
    stopwatch: the flow jobs' seconds are added under "flow_s" (summed over threads).
  """

  def __init__(self, frames, matrices, indices, *, source: str, mode: str, size: int, stride: int,
               spread: float, executor, stopwatch, confidence: str = compute.VALID_CONFIDENCE):
    if confidence not in compute.CONFIDENCES:
      raise ValueError(f"flow confidence {confidence!r} is unknown; choose one of {list(compute.CONFIDENCES)}")
    self.frames, self.matrices, self.indices = frames, matrices, indices
    self.source, self.mode, self.size, self.stride, self.spread = source, mode, size, stride, spread
    self.fb = confidence == compute.FB_CONFIDENCE
    self.executor, self.stopwatch = executor, stopwatch
    # t -> future of window t; (t, ±1) -> future of flow t -> t±1; with fb, (t, ±1) -> that flow
    # with its confidence against t±1 -> t.
    self._jobs, self._steps, self._checked = {}, {}, {}

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
    step = self._checked_step if self.fb else self._step
    chains = {t: ([step(j, 1) for j in range(t, int(self.indices[t].max()))],
                  [step(j, -1) for j in range(t, int(self.indices[t].min()), -1)])
              for t in range(start, stop)}
    for t, (forward, backward) in chains.items():
      self._jobs[t] = self.executor.submit(self._composed, t, forward, backward)

  def collect(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Waits for windows ``start .. stop - 1``: flows [N, T, h, h, 2], confidence [N, T, h, h, 1]."""
    grids, confs = zip(*[self._jobs.pop(t).result() for t in range(start, stop)])
    n = (len(self.indices[0]) - 1) // 2
    for steps in (self._steps, self._checked):
      for key in [k for k in steps if k[0] < stop - n]:  # no window still to come chains from these
        del steps[key]
    return np.stack(grids), np.stack(confs)

  def _pair(self, t: int, j: int) -> np.ndarray:
    """[H, W, C] flow t -> j (with fb, and its confidence against j -> t)."""
    frames = self.frames
    if j == t:
      still = np.zeros(frames[t].shape[:2] + (3 if self.fb else 2,), np.float32)
      still[..., 2:] = 1.0
      return still
    flow = compute.flow_between(frames[t], frames[j], self.source)
    return compute.with_fb_confidence(flow, compute.flow_between(frames[j], frames[t], self.source)) if self.fb else flow

  def _direct(self, t: int) -> tuple[np.ndarray, np.ndarray]:
    flows = np.stack([self._pair(t, int(j)) for j in self.indices[t]])
    return windows.flows_to_heatmap(flows, self.matrices[t], self.size, self.stride, self.spread)

  def _composed(self, t: int, forward, backward) -> tuple[np.ndarray, np.ndarray]:
    offsets = windows.spread_offsets(self.spread) if self.spread else None
    return composed_window_flows(
        t, self.indices[t], [f.result() for f in forward], [f.result() for f in backward],
        codec.heatmap_points(self.matrices[t], self.size, self.stride, offsets), self.frames[t].shape[:2],
        self.matrices[t], self.stride)

  def _step(self, t: int, sign: int) -> concurrent.futures.Future:
    if (t, sign) not in self._steps:
      self._steps[t, sign] = self.executor.submit(self.stopwatch.timed, "flow_s", compute.flow_between,
                                                  self.frames[t], self.frames[t + sign], self.source)
    return self._steps[t, sign]

  def _checked_step(self, t: int, sign: int) -> concurrent.futures.Future:
    """Future of flow t -> t+sign with its fb confidence; queued after the two flows it waits on."""
    if (t, sign) not in self._checked:
      ahead, back = self._step(t, sign), self._step(t + sign, -sign)
      def check():  # the wait is not flow time; the test is
        return self.stopwatch.timed("flow_s", compute.with_fb_confidence, ahead.result(), back.result())

      self._checked[t, sign] = self.executor.submit(check)
    return self._checked[t, sign]
