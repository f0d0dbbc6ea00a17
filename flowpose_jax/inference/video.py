"""The flowing video pipeline: per-frame maps warped along optical flow and pooled per window.

Each frame runs through the HeatmapNet once; for each centre t the maps of
frames t-n..t+n (clipped to t's shot and to the video: near the ends the
available neighbours repeat, ``flow.runs``) are warped along flow t -> t+k
computed on the frames (``window_flows``) and pooled by the trained pooler.

The flow is named by its **source** (an OpenCV method, ``compute.METHODS``;
the exact flow "gt" exists only in synthetic sets) and **mode** ("direct" |
"composed", ``compute.MODES``); by default the ones the model was trained
with (``trained_flow.flow_choice``).
"""

from __future__ import annotations

import concurrent.futures
import os

import numpy as np

from flowpose_jax.errors import FlowposeError, InputError
from flowpose_jax.flow import compute, runs, shots as shots_lib
from flowpose_jax.inference.batching import bucket_chunks, pad_rows
from flowpose_jax.inference.inputs import as_frames
from flowpose_jax.inference.stopwatch import Stopwatch
from flowpose_jax.inference.trained_flow import flow_choice
from flowpose_jax.inference.window_flows import InlineExecutor, WindowFlows

FLOW_ON = ("input", "frame")  # flow between the network-input crops, or between the original frames
# Seconds per stage in ``flowing_maps``' timings; "flow_s" is summed over the flow jobs (threads): the
# OpenCV flows and, in direct mode, their sampling onto the heatmap grid.
STAGES = ("preprocess_s", "shots_s", "heatmapnet_s", "flow_s", "warp_pool_s")
IDENTITY = np.array([[1, 0, 0], [0, 1, 0]], np.float32)


def video_shots(frames, shots="detect") -> np.ndarray:
  """[T] int shot ids of one video's frames: ``shots`` "detect" (``shots.shot_ids``),
  "none" (all 0), or given ids (checked)."""
  frames = as_frames(frames)
  if isinstance(shots, str):
    if shots == "detect":
      return shots_lib.shot_ids(frames)
    if shots == "none":
      return np.zeros(len(frames), np.int64)
    raise InputError(f"shots={shots!r}: use 'detect', 'none' or [T] shot ids")
  ids = np.asarray(shots)
  if ids.shape != (len(frames),) or not np.issubdtype(ids.dtype, np.integer) or np.any(np.diff(ids) < 0):
    raise InputError(f"shots: need [{len(frames)}] non-decreasing int shot ids, got shape {ids.shape} "
                     f"dtype {ids.dtype}")
  return ids.astype(np.int64)


def window_indices(shot_ids: np.ndarray, n: int, causal: bool = False) -> list[np.ndarray]:
  """Every frame's window: [T] of [2n+1] int frame indices in its shot (``runs.window_indices``);
  ``causal``: frames <= t only (future neighbours are frame t itself)."""
  starts, ends = shots_lib.shot_runs(shot_ids)
  if causal:
    ends = np.minimum(ends, np.arange(len(ends)) + 1)
  return [runs.window_indices(t, n, starts, ends) for t in range(len(ends))]


def require_flowing(model) -> None:
  """FlowposeError unless ``model`` has a temporal stage (a flowing model)."""
  if "flows" not in model.inputs:
    raise FlowposeError(f"the model in this workdir ({model.config.model.name}) has no temporal stage: "
                        f"train one with configs/flow.py, or predict without --flow")


def _video_frames(model, frames, flow_on: str) -> list[np.ndarray]:
  """The frames of one video, checked (``require_flowing`` too)."""
  require_flowing(model)
  if flow_on not in FLOW_ON:
    raise FlowposeError(f"flow_on={flow_on!r}: use one of {', '.join(FLOW_ON)}")
  frames = as_frames(frames)
  if len({f.shape for f in frames}) != 1:
    raise InputError("flowing prediction needs one video: all frames must have the same size")
  return frames


def flowing_maps(model, frames, boxes=None, *, source: str | None = None, mode: str | None = None,
                 causal: bool = False, flow_on: str = "input", flow_workers: int | None = None,
                 shots="detect", timings: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Flowing heatmaps of a video: every frame's maps warped to frame t and pooled.

  Args:
    model: a flowing ``model.FrameModel`` (configs/flow.py).
    frames: [T, H, W, 3] uint8, one video (all frames the same size).
    boxes: None or [T, 4] person boxes (x0, y0, x1, y1) frame px.
    source, mode: the flow (``trained_flow.flow_choice``; default: as the model was trained).
    causal: only frames <= t (live use; future neighbours are frame t itself).
    flow_on: "input": flow between the network-input crops (S x S; fast),
      "frame": between the original frames (more detail, slower on big frames).
    flow_workers: flow threads; 0 computes the flows in this thread, one
      after another (default: the CPU count). The flows run while the
      HeatmapNet does, and windows are pooled in bucketed batches of
      ``model.batch_size`` as their flows arrive, at most two batches ahead.
    shots: "detect", "none" or [T] int non-decreasing shot ids (``video_shots``).
    timings: optional dict; seconds are added per stage (``STAGES``), each
      measured once: "preprocess_s", "shots_s", "heatmapnet_s", "warp_pool_s"
      add up to at most the wall time; "flow_s" is summed over the flow jobs.

  Returns:
    heatmaps [T, h, w, 7] float32, matrices [T, 2, 3] float32 frame -> input.
  """
  source, mode, _ = flow_choice(model.config, source, mode)
  frames = _video_frames(model, frames, flow_on)
  watch = Stopwatch(timings, STAGES)
  with watch.stage("preprocess_s"):
    inputs, mats = model.preprocess(frames, boxes)
  with watch.stage("shots_s"):
    ids = video_shots(frames, shots)
  indices = window_indices(ids, (int(model.config.model.num_frames) - 1) // 2, causal)
  flow_frames, flow_mats = (inputs, np.broadcast_to(IDENTITY, mats.shape)) if flow_on == "input" else (frames, mats)
  workers = (os.cpu_count() or 1) if flow_workers is None else flow_workers
  executor = InlineExecutor() if workers == 0 else concurrent.futures.ThreadPoolExecutor(workers)
  trained = model.config.get("flow") or {}  # spread and confidence as the model was trained
  flows = WindowFlows(flow_frames, flow_mats, indices, source=source, mode=mode, size=model.input_size,
                      stride=model.stride, spread=float(trained.get("spread", 0.0)), executor=executor,
                      stopwatch=watch, confidence=trained.get("confidence", compute.VALID_CONFIDENCE))
  return _pool_video(model, inputs, indices, flows, watch), mats


def _pool_video(model, inputs: np.ndarray, indices: list[np.ndarray], flows: WindowFlows,
                watch: Stopwatch) -> np.ndarray:
  """The per-frame maps, then each batch of windows pooled as its flows arrive -> [T, h, w, J]."""
  chunks = bucket_chunks(len(inputs), model.batch_size)
  pooled = []
  with flows:
    for start, stop, _ in chunks[:2]:
      flows.submit(start, stop)  # (with flow_workers=0 this computes their flows now)
    with watch.stage("heatmapnet_s"):
      maps = model.frame_maps(inputs)
    for i, (start, stop, size) in enumerate(chunks):
      if i + 2 < len(chunks):
        flows.submit(*chunks[i + 2][:2])
      grids, confs = flows.collect(start, stop)
      with watch.stage("warp_pool_s"):
        window = [pad_rows(a, size) for a in (maps[np.stack(indices[start:stop])], grids, confs)]
        pooled.append(model.pool_windows(*window))  # dispatched; the next windows' flows run meanwhile
  with watch.stage("warp_pool_s"):
    return np.concatenate([np.asarray(p)[: stop - start] for p, (start, stop, _) in zip(pooled, chunks)])
