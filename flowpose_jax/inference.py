"""Inference: ``flowpose_jax.load(workdir)`` -> a ``Predictor``.

A Predictor maps uint8 RGB frames of any size to heatmaps and to joints in the
input frame's pixels. With no box the whole frame is letterboxed (aspect kept)
into the network input; with a person box [x0, y0, x1, y1] that region is.
"""

from __future__ import annotations

import cv2
import jax
import numpy as np

from flowpose_jax import heatmaps as codec, parallel, workdir as workdir_lib
from flowpose_jax.errors import FlowposeError, InputError
from flowpose_jax.models import forward_fn, model_inputs

DEFAULT_BATCH = 16
# Static batch sizes a call is padded to (the smallest that fits, up to the
# Predictor's batch_size): a few compilations in all, none per call.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


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
  from flowpose_jax.models.pooling import stack_and_warp  # pylint: disable=import-outside-toplevel

  def frame(params, images):
    return final_heatmaps(nnx.merge(graphdef, params).spatial(images))

  def pool(params, maps, flows, confidence):
    warped, valid = stack_and_warp(maps, flows)
    return nnx.merge(graphdef, params).pool(warped, valid * confidence)

  return frame, pool


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
  """

  def __init__(self, config, graphdef, params, *, batch_size: int = DEFAULT_BATCH):
    self.config = config
    self.input_size = int(config.input.size)
    self.stride = int(config.input.stride)
    self.batch_size = batch_size
    self.inputs = model_inputs(config.model)
    self._graphdef = graphdef
    self._output_fns = {}
    self._mesh = parallel.make_mesh()
    self._predict = parallel.make_predict_fn(self._mesh, forward_fn(graphdef), self.inputs)
    self.params = params

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

    ``output``: "heatmap" (conv8), "fusion" or "pooled"; default the final one.
    """
    if output is None:
      return self._predict(self.params, batch)
    if output not in self._output_fns:
      self._output_fns[output] = parallel.make_predict_fn(self._mesh, forward_fn(self._graphdef, output),
                                                          self.inputs)
    return self._output_fns[output](self.params, batch)

  def predict_inputs(self, inputs: np.ndarray) -> np.ndarray:
    """inputs [N, S, S, 3] uint8 -> heatmaps [N, h, w, J] float32.

    Runs in jitted batches of ``batch_size``, the last one padded to the
    smallest of ``batch_buckets(batch_size)`` that fits: one compilation per
    bucket, whatever N.

    Single-frame models only; the flowing model needs windows (``predict_batch``).
    """
    if self.inputs != ("image",):
      raise FlowposeError(f"{self.config.model.name} takes temporal windows, not single images: "
                          f"use predict_batch with a window batch")
    h = self.input_size // self.stride
    out = run_bucketed(lambda chunk: self._predict(self.params, chunk), inputs, self.batch_size)
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, h, h, 7), np.float32)

  def _submodule_fns(self):
    """Jitted per-frame HeatmapNet and window pooling of a flowing model (``flowing_parts``)."""
    if not hasattr(self, "_spatial_fn"):
      frame, pool = flowing_parts(self._graphdef)
      self._spatial_fn, self._pool_fn = jax.jit(frame), jax.jit(pool)
    return self._spatial_fn, self._pool_fn

  def _spatial_maps(self, inputs: np.ndarray) -> np.ndarray:
    """A flowing model's per-frame HeatmapNet maps: inputs [N, S, S, 3] -> [N, h, w, J] (bucketed batches)."""
    spatial_fn, _ = self._submodule_fns()
    return np.concatenate(run_bucketed(lambda chunk: spatial_fn(self.params, chunk), inputs, self.batch_size))

  def flowing_heatmaps(self, frames, boxes=None, *, method: str = "dis_medium", causal: bool = False,
                       flow_on: str = "input", timings: dict | None = None) -> np.ndarray:
    """Flowing heatmaps of a video: every frame's maps warped to frame t and pooled.

    Each frame runs through the HeatmapNet once; for each centre t the maps of
    frames t-n..t+n (clipped to the video: near its ends the available
    neighbours repeat) are warped along OpenCV flow t -> t+k computed on the
    frames, and pooled by the trained pooler. ``causal``: only frames <= t
    (for live use; future neighbours are replaced by frame t itself).

    Args:
      frames: [T, H, W, 3] uint8, one video (all frames the same size).
      boxes: None or [T, 4] person boxes.
      method: OpenCV flow method (``flowpose_jax.flow.METHODS``).
      flow_on: "input": flow between the network-input crops (S x S; fast),
        "frame": between the original frames (more detail, slower on big frames).
      timings: optional dict; seconds spent per stage are added to it.

    Returns:
      [T, h, w, 7] float32 flowing heatmaps.
    """
    import time  # pylint: disable=import-outside-toplevel
    from flowpose_jax.data import windows  # pylint: disable=import-outside-toplevel
    from flowpose_jax.flow import compute  # pylint: disable=import-outside-toplevel
    if "flows" not in self.inputs:
      raise FlowposeError(f"the model in this workdir ({self.config.model.name}) has no temporal stage: "
                          f"train one with configs/flow.py, or predict without --flow")
    if flow_on not in ("input", "frame"):
      raise FlowposeError(f"flow_on={flow_on!r}: use 'input' or 'frame'")
    frames = _as_frames(frames)
    if len({f.shape for f in frames}) != 1:
      raise InputError("flowing prediction needs one video: all frames must have the same size")
    timings = {} if timings is None else timings
    tick = time.perf_counter()
    inputs, mats = self.preprocess(frames, boxes)
    _, pool_fn = self._submodule_fns()
    maps = self._spatial_maps(inputs)
    timings["heatmapnet_s"] = timings.get("heatmapnet_s", 0.0) + time.perf_counter() - tick
    if flow_on == "input":
      flow_frames = inputs
      identity = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
      flow_mats = np.broadcast_to(identity, mats.shape)
    else:
      flow_frames, flow_mats = frames, mats
    t_total = len(frames)
    n = (int(self.config.model.num_frames) - 1) // 2
    out = np.zeros_like(maps)
    for t in range(t_total):
      tick = time.perf_counter()
      idx = np.clip(np.arange(t - n, t + n + 1), 0, (t if causal else t_total - 1))
      flows = np.stack([np.zeros(flow_frames[t].shape[:2] + (2,), np.float32) if j == t
                        else compute.flow_between(flow_frames[t], flow_frames[j], method) for j in idx])
      grid, conf = windows.flows_to_heatmap(flows, flow_mats[t], self.input_size, self.stride)
      timings["flow_s"] = timings.get("flow_s", 0.0) + time.perf_counter() - tick
      tick = time.perf_counter()
      out[t] = np.asarray(pool_fn(self.params, maps[idx][None], grid[None], conf[None]))[0]
      timings["warp_pool_s"] = timings.get("warp_pool_s", 0.0) + time.perf_counter() - tick
    return out

  def heatmaps(self, frames, boxes=None) -> np.ndarray:
    """frames [T, H, W, 3] uint8 -> heatmaps [T, h, w, 7] float32 (h = S / stride; 64 for the paper model)."""
    inputs, _ = self.preprocess(frames, boxes)
    return self.predict_inputs(inputs)

  def joints(self, frames, boxes=None, *, flow: bool = False, **flow_kwargs
             ) -> tuple[np.ndarray, np.ndarray]:
    """frames [T, H, W, 3] uint8 -> joints [T, 7, 2] (x, y) in each frame's px, confidence [T, 7].

    Joints stay in the frame: a peak that decodes into the letterbox padding
    (or outside the frame, with a box) is clipped to the frame's border
    pixel; its confidence (the heatmap peak) is kept as it is.
    ``flow``: use the temporal stage (``flowing_heatmaps``; kwargs go there).
    A flowing model without ``flow`` predicts with its single-frame part.
    """
    inputs, mats = self.preprocess(frames, boxes)
    if flow:
      hm = self.flowing_heatmaps(frames, boxes, **flow_kwargs)
    elif "flows" in self.inputs:
      hm = self._spatial_maps(inputs)
    else:
      hm = self.predict_inputs(inputs)
    frame_hw = np.array([f.shape[:2] for f in _as_frames(frames)], np.float32)
    return codec.decode_to_frame(hm, mats, self.stride, frame_hw)


def load(workdir: str, *, step: int | None = None, batch_size: int = DEFAULT_BATCH) -> Predictor:
  """Loads the latest (or given) checkpoint of a training workdir."""
  trained = workdir_lib.load(workdir, step)
  return Predictor(trained.config, trained.graphdef, trained.params, batch_size=batch_size)
