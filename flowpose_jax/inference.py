"""Inference: ``flowpose_jax.load(workdir)`` -> a ``Predictor``.

A Predictor maps uint8 RGB frames of any size to heatmaps and to joints in the
input frame's pixels. With no box the whole frame is letterboxed (aspect kept)
into the network input; with a person box [x0, y0, x1, y1] that region is.
"""

from __future__ import annotations

import concurrent.futures
import os
import time

import cv2
import jax
import numpy as np

from flowpose_jax import heatmaps as codec, parallel, workdir as workdir_lib
from flowpose_jax.data import windows
from flowpose_jax.errors import FlowposeError, InputError
from flowpose_jax.flow import compute, shots as shots_lib
from flowpose_jax.joints import FLIP_INDEX, joints_box
from flowpose_jax.models import PRECOMPUTED_MAPS, forward_fn, model_inputs

DEFAULT_BATCH = 16
# Static batch sizes a call is padded to (the smallest that fits, up to the
# Predictor's batch_size): a few compilations in all, none per call.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
FLOW_MODES = ("direct", "composed")  # as flowpose_jax.flow.compute.MODES
# Two-pass inference: joints of the coarse pass at least this confident (map
# peak; a target peak is 1) make the second pass's crop.
PERSON_MIN_CONFIDENCE = 0.1
# Whole-frame passes of a crop-trained model: find the person on the
# letterboxed frame, crop around them, then re-crop once around the joints of
# that crop (the coarse pass's box is too small on unseen footage: median 0.85
# of the true box on Buffy episode 4). The third pass gained 0.6-4.3 points
# at 20 px there on each of three models, with and without flip test
# (benchmarks/realpose_table_results.md); ``passes=2`` is a third faster.
CROP_PASSES = 3
# The second pass's margin for workdirs saved before ``input.joints_margin``
# existed (configs/common.py's default then).
LEGACY_JOINTS_MARGIN = 0.4
BOX_SMOOTHING_RADIUS = 2  # flowing video inference: median of the found boxes over 2r+1 frames


def batch_buckets(batch_size: int) -> tuple[int, ...]:
  """The padded batch sizes used under ``batch_size``: powers of two below it, then it."""
  return tuple(b for b in BATCH_BUCKETS if b < batch_size) + (batch_size,)


def bucket_chunks(n: int, batch_size: int) -> list[tuple[int, int, int]]:
  """Splits ``n`` frames into jitted calls: [(start, stop, padded size)], full
  ``batch_size`` chunks, then the remainder padded to the smallest bucket that fits."""
  buckets = batch_buckets(batch_size)
  out = []
  for start in range(0, n, batch_size):
    stop = min(n, start + batch_size)
    out.append((start, stop, next(b for b in buckets if b >= stop - start)))
  return out


def run_bucketed(fn, inputs: np.ndarray, batch_size: int) -> list[np.ndarray]:
  """``fn`` over ``inputs`` [N, ...] in bucketed, zero-padded batches; the N unpadded rows, in order."""
  out = []
  for start, stop, size in bucket_chunks(len(inputs), batch_size):
    chunk = inputs[start:stop]
    if size > len(chunk):
      chunk = np.concatenate([chunk, np.zeros((size - len(chunk),) + chunk.shape[1:], chunk.dtype)])
    out.append(np.asarray(fn(chunk))[: stop - start])
  return out


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
  from flax import nnx  # pylint: disable=import-outside-toplevel
  from flowpose_jax.models import final_heatmaps  # pylint: disable=import-outside-toplevel

  def frame(params, images):
    return final_heatmaps(nnx.merge(graphdef, params).spatial(images))

  def pool(params, maps, flows, confidence):
    return nnx.merge(graphdef, params).pool_maps(maps, flows, confidence)["pooled"]

  return frame, pool


def precompute_maps(graphdef, params, source, config, *, desc: str = "frame maps") -> np.ndarray:
  """``windows.frame_maps`` of a flowing model's HeatmapNet over every record of ``source``.

  Returns [N, windows.MAP_VIEWS, h, h, J] float32, for windows with
  ``config.flow.maps = "precomputed"`` (jitted over this process's devices).
  """
  frame, _ = flowing_parts(graphdef)
  predict = parallel.make_predict_fn(parallel.make_mesh(jax.local_devices()), frame, ("images",))
  return windows.frame_maps(lambda inputs: predict(params, inputs), source, config, desc=desc)


class _InlineExecutor:
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


def heatmap_points(matrix: np.ndarray, size: int, stride: int) -> np.ndarray:
  """Frame positions of the heatmap pixel centres.

  Args:
    matrix: [2, 3] frame -> input affine.
    size: S, the input side; stride: input px per heatmap px (h = S // stride).

  Returns:
    [h * h, 2] float64 (x, y) frame px, row-major over the heatmap (v, u).
  """
  h = size // stride
  m = np.asarray(matrix, np.float64)
  uv = np.stack(np.mgrid[0:h, 0:h][::-1], -1).reshape(-1, 2)  # (u, v)
  return (codec.heatmap_to_input(uv, stride).astype(np.float64) - m[:, 2]) @ np.linalg.inv(m[:, :2]).T


def composed_window_flows(centre: int, indices: np.ndarray, forward, backward, points: np.ndarray,
                          frame_hw: tuple[int, int], matrix: np.ndarray, stride: int
                          ) -> tuple[np.ndarray, np.ndarray]:
  """A window's heatmap-grid flows from consecutive flows chained at the heatmap points.

  The composed alternative to ``windows.flows_to_heatmap`` of direct flows:
  each heatmap pixel's frame point is followed through the consecutive flows
  (``compute.track_points``), so a window costs 2n samplings of h*h points
  instead of 2n flows.

  Args:
    centre: the window's centre frame t.
    indices: [T] int, the window's frames (clipped; repeats of t get zero flow).
    forward: [H, W, 2] flows t -> t+1, t+1 -> t+2, ... up to ``indices.max()``.
    backward: [H, W, 2] flows t -> t-1, t-1 -> t-2, ... down to ``indices.min()``.
    points: [h*h, 2] ``heatmap_points`` of the window's matrix.
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
    ends = [points, points + out]
    known = np.isfinite(out).all(-1)
    for p in ends:
      known &= (p[..., 0] >= 0) & (p[..., 0] <= width - 1) & (p[..., 1] >= 0) & (p[..., 1] <= height - 1)
  grid = np.where(known[..., None], out @ np.asarray(matrix, np.float64)[:, :2].T / stride, 0.0)
  h = int(round(np.sqrt(len(points))))
  return (grid.reshape(len(indices), h, h, 2).astype(np.float32),
          known.reshape(len(indices), h, h, 1).astype(np.float32))


def _as_frames(frames) -> list[np.ndarray]:
  """[T, H, W, 3] uint8 array or a list of [H, W, 3] uint8 arrays -> list."""
  if isinstance(frames, np.ndarray) and frames.ndim == 3:
    raise InputError(f"frames must be [T, H, W, 3] uint8; got one image of shape {frames.shape}: "
                     f"wrap it as frames[None]")
  out = list(frames)
  for i, f in enumerate(out):
    f = np.asarray(f)
    if f.ndim != 3 or f.shape[-1] != 3:
      raise InputError(f"frame {i} has shape {f.shape}; expected [H, W, 3] RGB")
    if f.dtype != np.uint8:
      raise InputError(f"frame {i} has dtype {f.dtype}; expected uint8 (0..255)")
  return out


def check_box(box, frame_size: tuple[int, int] | None = None, *, name: str = "box") -> np.ndarray:
  """A person box that can be cropped, or one InputError line saying why not.

  Args:
    box: [4] (x0, y0, x1, y1) frame px, inclusive pixel extents (as
      ``heatmaps.letterbox_matrix``): finite, x0 < x1 and y0 < y1.
    frame_size: (H, W) of the frame, or None to skip the overlap check; the
      box must overlap the frame (it may reach outside it).
    name: how messages call the box, e.g. "--box".

  Returns:
    [4] float32.
  """
  values = np.asarray(box, np.float64)
  if values.shape != (4,):
    raise InputError(f"{name} must be 4 numbers x0,y0,x1,y1 (frame px); got shape {values.shape}")
  text = ",".join(f"{v:g}" for v in values)
  if not np.isfinite(values).all():
    raise InputError(f"{name} {text}: not finite; give four finite numbers x0,y0,x1,y1 (frame px)")
  x0, y0, x1, y1 = values
  if not (x0 < x1 and y0 < y1):
    raise InputError(f"{name} {text}: needs x0 < x1 and y0 < y1 (x0,y0 the top-left corner, frame px)")
  if frame_size is not None:
    height, width = frame_size
    if x1 <= -1 or y1 <= -1 or x0 >= width or y0 >= height:  # pixel extents [x0 - 0.5, x1 + 0.5]
      raise InputError(f"{name} {text} does not overlap the {width}x{height} (width x height) frame; "
                       f"give a box that overlaps x 0..{width - 1}, y 0..{height - 1}")
  return values.astype(np.float32)


class Predictor:
  """A trained single-frame model, ready to run.

  Attributes:
    config: the run's ConfigDict.
    input_size: network input side S (px).
    stride: input px per heatmap px; heatmap side h = S / stride.
    graphdef, params: the model (``nnx.split``; params a pure dict).
    runtime: what runs the per-frame network: "jax", or the name given to
      ``set_runtime`` ("onnxruntime"; "auto"/"onnx" until ``runtimes.use`` decides).
    flip_test: average each frame's maps with its mirror image's (``frame_maps``).
  """

  def __init__(self, config, graphdef, params, *, batch_size: int = DEFAULT_BATCH):
    self.config = config
    self.input_size = int(config.input.size)
    self.stride = int(config.input.stride)
    self.batch_size = batch_size
    self.inputs = model_inputs(config.model)
    self.graphdef = graphdef
    self._output_fns = {}
    self._mesh = parallel.make_mesh()
    self._predict = parallel.make_predict_fn(self._mesh, forward_fn(graphdef), self.inputs)
    self.params = params
    self.runtime, self._runtime_fn = "jax", None
    self.flip_test = False  # frame_maps: also run the mirror image and average

  def preprocess(self, frames, boxes=None) -> tuple[np.ndarray, np.ndarray]:
    """frames: [T, H, W, 3] uint8 (or list of differently sized frames);
    boxes: None or [T, 4] (x0, y0, x1, y1) frame px.

    Returns: inputs [T, S, S, 3] uint8, matrices [T, 2, 3] frame -> input.
    """
    frames = _as_frames(frames)
    if boxes is not None:
      boxes = np.asarray(boxes, np.float32)
      if boxes.shape != (len(frames), 4):
        raise InputError(f"boxes must be [T, 4] = [{len(frames)}, 4] (x0, y0, x1, y1); got {boxes.shape}")
      boxes = np.stack([check_box(b, f.shape[:2], name=f"boxes[{i}]")
                        for i, (b, f) in enumerate(zip(boxes, frames))])
    s = self.input_size
    inputs = np.zeros((len(frames), s, s, 3), np.uint8)
    mats = np.zeros((len(frames), 2, 3), np.float32)
    for i, f in enumerate(frames):
      mats[i] = codec.letterbox_matrix(f.shape[:2], None if boxes is None else boxes[i], s)
      inputs[i] = cv2.warpAffine(f, mats[i], (s, s), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return inputs, mats

  def predict_batch(self, batch: dict, output: str | None = None) -> np.ndarray:
    """A pipeline batch (the model's inputs) -> heatmaps [B, h, w, J].

    A flowing model's batch may hold precomputed per-frame "maps" instead of
    "images" (``precompute_maps``): then only warping and pooling run.

    ``output``: "heatmap" (conv8), "fusion" or "pooled"; default the final one.
    A single-frame model's final maps honour ``flip_test`` (``frame_maps``).
    """
    if output is None and self.flip_test and self.inputs == ("image",):
      return self.frame_maps(np.asarray(batch["image"]))
    inputs = model_inputs(self.config.model, {"maps": PRECOMPUTED_MAPS} if "maps" in batch else None)
    if output is None and inputs == self.inputs:
      return self._predict(self.params, batch)
    if (output, inputs) not in self._output_fns:
      self._output_fns[output, inputs] = parallel.make_predict_fn(
          self._mesh, forward_fn(self.graphdef, output, inputs), inputs)
    return self._output_fns[output, inputs](self.params, batch)

  def set_runtime(self, name: str, run=None) -> None:
    """Runs the per-frame network (``frame_maps``) through ``run`` instead of JAX.

    Args:
      name: what messages call it, e.g. "onnxruntime" ("jax" with ``run`` None
        goes back to JAX).
      run: ``run(inputs [N, S, S, 3] uint8) -> [N, h, w, J] float32``, the same
        function as ``jax_frame_maps`` (e.g. an exported graph,
        ``flowpose_jax.runtimes``); pooling stays in JAX.
    """
    self.runtime, self._runtime_fn = name, run

  def jax_frame_maps(self, inputs: np.ndarray) -> np.ndarray:
    """``frame_maps`` in JAX: jitted bucketed batches (see ``predict_inputs``)."""
    if "flows" in self.inputs:
      spatial_fn, _ = self._submodule_fns()
      fn = lambda chunk: spatial_fn(self.params, chunk)  # noqa: E731
    else:
      fn = lambda chunk: self._predict(self.params, chunk)  # noqa: E731
    h = self.input_size // self.stride
    out = run_bucketed(fn, inputs, self.batch_size)
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, h, h, 7), np.float32)

  def frame_maps(self, inputs: np.ndarray) -> np.ndarray:
    """The per-frame network: inputs [N, S, S, 3] uint8 -> maps [N, h, w, J] float32.

    A single-frame model's final maps; a flowing model's HeatmapNet (+ fusion)
    maps, before pooling. Through ``self.runtime`` (JAX unless ``set_runtime``).
    With ``self.flip_test``, the mean of the maps of the inputs and of their
    mirror images (mirrored back, left/right channels swapped): twice the work.
    """
    run = self.jax_frame_maps if self._runtime_fn is None else self._runtime_fn
    if not self.flip_test:
      return run(inputs)
    both = run(np.concatenate([inputs, inputs[:, :, ::-1]]))
    # Input column x' = S - 1 - x is heatmap column w - 1 - u (stride-aligned pixel centres).
    return 0.5 * (both[:len(inputs)] + both[len(inputs):, :, ::-1][..., list(FLIP_INDEX)])

  def predict_inputs(self, inputs: np.ndarray) -> np.ndarray:
    """inputs [N, S, S, 3] uint8 -> heatmaps [N, h, w, J] float32.

    In JAX, runs in jitted batches of ``batch_size``, the last one padded to
    the smallest of ``batch_buckets(batch_size)`` that fits: one compilation
    per bucket, whatever N.

    Single-frame models only; the flowing model needs windows (``predict_batch``).
    """
    if self.inputs != ("image",):
      raise FlowposeError(f"{self.config.model.name} takes temporal windows, not single images: "
                          f"use predict_batch with a window batch")
    return self.frame_maps(inputs)

  def _submodule_fns(self):
    """Jitted per-frame HeatmapNet and window pooling of a flowing model (``flowing_parts``)."""
    if not hasattr(self, "_spatial_fn"):
      frame, pool = flowing_parts(self.graphdef)
      self._spatial_fn, self._pool_fn = jax.jit(frame), jax.jit(pool)
    return self._spatial_fn, self._pool_fn

  def flowing_heatmaps(self, frames, boxes=None, *, method: str = "dis_medium", mode: str = "direct",
                       causal: bool = False, flow_on: str = "input", flow_workers: int | None = None,
                       shots="detect", timings: dict | None = None) -> np.ndarray:
    """Flowing heatmaps of a video: every frame's maps warped to frame t and pooled.

    Each frame runs through the HeatmapNet once; for each centre t the maps of
    frames t-n..t+n (clipped to the video: near its ends the available
    neighbours repeat) are warped along OpenCV flow t -> t+k computed on the
    frames, and pooled by the trained pooler. ``causal``: only frames <= t
    (for live use; future neighbours are replaced by frame t itself). A
    window never crosses a shot cut: it is clipped to t's shot as to the video.

    The flows are computed by ``flow_workers`` threads (OpenCV releases the
    GIL) while the HeatmapNet runs, and the windows are pooled in bucketed
    batches of ``batch_size`` centres as their flows arrive, at most two
    batches of windows ahead.

    Args:
      frames: [T, H, W, 3] uint8, one video (all frames the same size).
      boxes: None or [T, 4] person boxes.
      method: OpenCV flow method (``flowpose_jax.flow.METHODS``).
      mode: "direct": 2n flows t -> t+k per frame (``windows.flows_to_heatmap``);
        "composed": two flows per frame (t -> t+1 and t+1 -> t), chained along
        the window at the heatmap points (``composed_window_flows``): fewer
        flows, drift over long chains (benchmarks/flow_inference.py measures both).
      flow_on: "input": flow between the network-input crops (S x S; fast),
        "frame": between the original frames (more detail, slower on big frames).
      flow_workers: flow threads; 0 computes the flows in this thread, one after
        another (default: the CPU count).
      shots: "detect" (``flowpose_jax.flow.shots.shot_ids`` on the frames),
        "none" (one shot), or [T] int non-decreasing shot ids.
      timings: optional dict; seconds are added per stage: "heatmapnet_s"
        (preprocess + network), "flow_s" (summed over the flow jobs, which
        overlap the other stages), "warp_pool_s" (warping + pooling), "shots_s".

    Returns:
      [T, h, w, 7] float32 flowing heatmaps.
    """
    if "flows" not in self.inputs:
      raise FlowposeError(f"the model in this workdir ({self.config.model.name}) has no temporal stage: "
                          f"train one with configs/flow.py, or predict without --flow")
    if flow_on not in ("input", "frame"):
      raise FlowposeError(f"flow_on={flow_on!r}: use 'input' or 'frame'")
    if mode not in FLOW_MODES:
      raise FlowposeError(f"flow mode {mode!r}: use one of {', '.join(FLOW_MODES)}")
    if method not in compute.METHODS:
      raise FlowposeError(f"flow method {method!r}: use one of {', '.join(compute.METHODS)}")
    frames = _as_frames(frames)
    if len({f.shape for f in frames}) != 1:
      raise InputError("flowing prediction needs one video: all frames must have the same size")
    timings = {} if timings is None else timings

    def add(key, seconds):
      timings[key] = timings.get(key, 0.0) + seconds

    tick = time.perf_counter()
    inputs, mats = self.preprocess(frames, boxes)
    if flow_on == "input":
      flow_frames = inputs
      flow_mats = np.broadcast_to(np.array([[1, 0, 0], [0, 1, 0]], np.float32), mats.shape)
    else:
      flow_frames, flow_mats = frames, mats
    t_total = len(frames)
    n = (int(self.config.model.num_frames) - 1) // 2
    spread = float(self.config.get("flow", {}).get("spread", 0.0))  # as the model was trained
    if spread and mode != "direct":
      raise FlowposeError(f"this model was trained with config.flow.spread={spread:g} (motion spread), which "
                          "the composed flow mode does not apply: use mode 'direct'")
    tick = time.perf_counter()
    starts, ends = shots_lib.shot_runs(video_shots(frames, shots))
    add("shots_s", time.perf_counter() - tick)
    indices = [np.clip(np.arange(t - n, t + n + 1), starts[t], t if causal else ends[t] - 1)
               for t in range(t_total)]
    flow_seconds = []  # list.append is atomic: the flow threads add to it

    def timed(fn, *args):
      start = time.perf_counter()
      out = fn(*args)
      flow_seconds.append(time.perf_counter() - start)
      return out

    def direct(t):
      flows = np.stack([np.zeros(flow_frames[t].shape[:2] + (2,), np.float32) if j == t
                        else compute.flow_between(flow_frames[t], flow_frames[j], method) for j in indices[t]])
      return windows.flows_to_heatmap(flows, flow_mats[t], self.input_size, self.stride, spread)

    def composed(t, forward, backward):
      return composed_window_flows(
          t, indices[t], [f.result() for f in forward], [f.result() for f in backward],
          heatmap_points(flow_mats[t], self.input_size, self.stride), flow_frames[t].shape[:2],
          flow_mats[t], self.stride)

    steps = {}  # (t, +1): future of flow t -> t+1; (t, -1): of flow t -> t-1

    def step(t, sign):
      if (t, sign) not in steps:
        steps[t, sign] = executor.submit(timed, compute.flow_between, flow_frames[t], flow_frames[t + sign],
                                         method)
      return steps[t, sign]

    jobs = {}

    def submit(chunk):
      start, stop, _ = chunk
      if mode == "direct":
        for t in range(start, stop):
          jobs[t] = executor.submit(timed, direct, t)
        return
      # Every step is queued before the windows that wait on it, and a thread pool starts jobs in
      # order: a waiting window's steps are already running or done, so it cannot deadlock.
      chains = {t: ([step(j, 1) for j in range(t, int(indices[t].max()))],
                    [step(j, -1) for j in range(t, int(indices[t].min()), -1)]) for t in range(start, stop)}
      for t, (forward, backward) in chains.items():
        jobs[t] = executor.submit(composed, t, forward, backward)

    workers = (os.cpu_count() or 1) if flow_workers is None else flow_workers
    executor = _InlineExecutor() if workers == 0 else concurrent.futures.ThreadPoolExecutor(workers)
    chunks = bucket_chunks(t_total, self.batch_size)
    pooled = []
    add("heatmapnet_s", time.perf_counter() - tick)
    try:
      for chunk in chunks[:2]:
        submit(chunk)  # (with flow_workers=0 this computes their flows now)
      tick = time.perf_counter()
      _, pool_fn = self._submodule_fns()
      maps = self.frame_maps(inputs)
      add("heatmapnet_s", time.perf_counter() - tick)
      for i, (start, stop, size) in enumerate(chunks):
        if i + 2 < len(chunks):
          submit(chunks[i + 2])
        grids, confs = zip(*[jobs.pop(t).result() for t in range(start, stop)])
        for key in [k for k in steps if k[0] < stop - n]:  # no window still to come chains from these
          del steps[key]
        tick = time.perf_counter()
        window = [maps[np.stack(indices[start:stop])], np.stack(grids), np.stack(confs)]
        window = [np.concatenate([a, np.zeros((size - len(a),) + a.shape[1:], a.dtype)]) for a in window]
        pooled.append(pool_fn(self.params, *window))  # dispatched; the next windows' flows run meanwhile
        add("warp_pool_s", time.perf_counter() - tick)
    finally:
      executor.shutdown(wait=True, cancel_futures=True)
    tick = time.perf_counter()
    out = np.concatenate([np.asarray(p)[: stop - start] for p, (start, stop, _) in zip(pooled, chunks)])
    add("warp_pool_s", time.perf_counter() - tick)
    add("flow_s", sum(flow_seconds))
    return out

  def heatmaps(self, frames, boxes=None) -> np.ndarray:
    """frames [T, H, W, 3] uint8 -> heatmaps [T, h, w, 7] float32 (h = S / stride; 64 for the paper model)."""
    inputs, _ = self.preprocess(frames, boxes)
    return self.predict_inputs(inputs)

  @property
  def default_passes(self) -> int:
    """Passes over a whole frame without a box: ``CROP_PASSES`` for a model
    whose single-frame part was trained on person crops (``input.crop`` "box" /
    "joints"; a flowing stage's ``input.spatial_crop``, filled at training from
    its ``init_from``), 1 for one trained on whole frames."""
    crop = self.config.input.get("spatial_crop") or self.config.input.crop
    return 1 if crop == "frame" else CROP_PASSES

  def person_boxes(self, frames, passes: int = 2) -> np.ndarray:
    """Finds the main person in whole frames: the crop of the last pass.

    Pass 1 letterboxes the whole frame; its maps are narrowed to the person
    with the strongest head peak (``heatmaps.focus_on_person``) and decoded;
    the box of the joints with confidence >= ``PERSON_MIN_CONFIDENCE`` grown by
    ``config.input.joints_margin`` × its larger side (``joints.joints_box``,
    the rule the model was trained with) is the next pass's crop. Each further
    pass re-crops from the previous one's joints (decoded without the focus: a
    crop is centred on its person, and the prior would pull far wrists in). Single-frame maps only (a
    flowing model's per-frame part).

    Args:
      frames: [T, H, W, 3] uint8 (or a list of differently sized frames).
      passes: total passes including the final one the caller runs (>= 2).

    Returns:
      boxes [T, 4] float32 (x0, y0, x1, y1) frame px; the whole frame where
      fewer than two joints were found.
    """
    frames = _as_frames(frames)
    frame_hw = np.array([f.shape[:2] for f in frames], np.float32)
    boxes = None
    margin = self.config.input.get("joints_margin", LEGACY_JOINTS_MARGIN)
    for k in range(passes - 1):
      inputs, mats = self.preprocess(frames, boxes)
      maps = self.frame_maps(inputs)
      if k == 0:  # the whole frame may show several people; a crop is centred on one already
        maps = codec.focus_on_person(maps)
      found, conf = codec.decode_to_frame(maps, mats, self.stride, frame_hw)
      boxes = np.stack([_box_or_frame(j, c, f.shape[:2], margin)
                        for j, c, f in zip(found, conf, frames)])
    return boxes

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
    ``flow``: use the temporal stage (``flowing_heatmaps``; kwargs go there)
    for the final pass; the frames are one video, so the found boxes are
    smoothed over time first (``smooth_boxes``).
    A flowing model without ``flow`` predicts with its single-frame part.
    """
    passes = self.default_passes if passes is None else int(passes)
    if passes < 1:
      raise InputError(f"passes={passes}: give 1 (the whole frame) or more (find the person, then crop)")
    if flow:  # one video: find its shots once, for the boxes and the windows
      flow_kwargs["shots"] = video_shots(frames, flow_kwargs.get("shots", "detect"))
    if boxes is None and passes > 1:
      boxes = self.person_boxes(frames, passes)
      if flow:  # one video: a steady crop keeps the flow between neighbouring crops small
        boxes = smooth_boxes(boxes, shots=flow_kwargs["shots"])
    inputs, mats = self.preprocess(frames, boxes)
    if flow:
      hm = self.flowing_heatmaps(frames, boxes, **flow_kwargs)
    elif "flows" in self.inputs:
      hm = self.frame_maps(inputs)
    else:
      hm = self.predict_inputs(inputs)
    frame_hw = np.array([f.shape[:2] for f in _as_frames(frames)], np.float32)
    return codec.decode_to_frame(hm, mats, self.stride, frame_hw)


def smooth_boxes(boxes: np.ndarray, radius: int = BOX_SMOOTHING_RADIUS, shots: np.ndarray | None = None
                 ) -> np.ndarray:
  """A video's per-frame boxes [T, 4] -> the running median over frames t-radius..t+radius
  (clipped at the ends and, with ``shots`` [T] int ids, at shot cuts), per
  coordinate: one bad coarse pass does not move the crop."""
  boxes = np.asarray(boxes, np.float32)
  t = len(boxes)
  starts, ends = shots_lib.shot_runs(np.zeros(t, np.int64) if shots is None else shots)
  return np.stack([np.median(boxes[max(starts[i], i - radius):min(ends[i], i + radius + 1)], 0)
                   for i in range(t)]).astype(np.float32)


def video_shots(frames, shots="detect") -> np.ndarray:
  """[T] int shot ids of one video's frames: ``shots`` "detect" (``shots.shot_ids``),
  "none" (all 0), or given ids (checked)."""
  frames = _as_frames(frames)
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


def _box_or_frame(found: np.ndarray, conf: np.ndarray, frame_hw, margin: float) -> np.ndarray:
  """The next pass's crop from one frame's joints [J, 2] and confidences [J]
  (``Predictor.person_boxes``), or the whole frame."""
  box = joints_box(found, conf >= PERSON_MIN_CONFIDENCE, margin=margin)
  h, w = frame_hw
  if box is None or not (box[2] > -1 and box[3] > -1 and box[0] < w and box[1] < h):
    return np.array([0, 0, w - 1, h - 1], np.float32)
  return box


def load(workdir: str, *, step: int | None = None, batch_size: int = DEFAULT_BATCH) -> Predictor:
  """Loads the latest (or given) checkpoint of a training workdir."""
  trained = workdir_lib.load(workdir, step)
  return Predictor(trained.config, trained.graphdef, trained.params, batch_size=batch_size)
