"""The per-frame model: frames -> network inputs -> maps on a runtime -> heatmaps.

``FrameModel`` runs a trained network on uint8 RGB frames of any size
(``inputs.preprocess``), in jitted bucketed batches (``batching``) or through
another runtime (``set_runtime``, ``flowpose_jax.runtimes``), optionally with
flip test; ``predict_batch`` serves the evaluator's pipeline batches.
"""

from __future__ import annotations

import jax
import numpy as np

from flowpose_jax import parallel
from flowpose_jax.errors import FlowposeError
from flowpose_jax.flow.compute import PRECOMPUTED_MAPS
from flowpose_jax.inference import batching, inputs as inputs_lib
from flowpose_jax.models import flowing_parts
from flowpose_jax.joints import FLIP_INDEX, NUM_JOINTS
from flowpose_jax.models import forward_fn, model_inputs


class FrameModel:
  """A trained model, ready to run frame by frame.

  Attributes:
    config: the run's ConfigDict.
    input_size: network input side S (px).
    stride: input px per heatmap px; heatmap side h = S / stride.
    batch_size: frames per jitted call (smaller calls pad to ``batching.batch_buckets``).
    inputs: the batch keys the model takes (``models.model_inputs``).
    graphdef, params: the model (``nnx.split``; params a pure dict).
    runtime: what runs the per-frame network: "jax", or the name given to
      ``set_runtime`` ("onnxruntime"; "auto"/"onnx" until ``runtimes.use`` decides).
    flip_test: average each frame's maps with its mirror image's (``frame_maps``).
  """

  def __init__(self, config, graphdef, params, *, batch_size: int = batching.DEFAULT_BATCH):
    self.config = config
    self.input_size = int(config.input.size)
    self.stride = int(config.input.stride)
    self.batch_size = batch_size
    self.inputs = model_inputs(config.model)
    self.graphdef = graphdef
    self.params = params
    self._output_fns = {}
    self._mesh = parallel.make_mesh()
    self._predict = parallel.make_predict_fn(self._mesh, forward_fn(graphdef), self.inputs)
    self._flowing_fns = None
    self.runtime, self._runtime_fn = "jax", None
    self.flip_test = False

  def preprocess(self, frames, boxes=None) -> tuple[np.ndarray, np.ndarray]:
    """frames [T, H, W, 3] uint8, boxes None or [T, 4] -> inputs [T, S, S, 3] uint8,
    matrices [T, 2, 3] frame -> input (``inputs.preprocess``)."""
    return inputs_lib.preprocess(frames, boxes, self.input_size)

  def predict_batch(self, batch: dict, output: str | None = None) -> np.ndarray:
    """A pipeline batch (the model's inputs) -> heatmaps [B, h, w, J].

    A flowing model's batch may hold precomputed per-frame "maps" instead of
    "images" (``train.precomputed.precompute_maps``): then only warping and pooling run.
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
      name: what messages call it, e.g. "onnxruntime" ("jax" with ``run`` None goes back to JAX).
      run: ``run(inputs [N, S, S, 3] uint8) -> [N, h, w, J] float32``, the same
        function as ``jax_frame_maps`` (e.g. an exported graph,
        ``flowpose_jax.runtimes``); pooling stays in JAX.
    """
    self.runtime, self._runtime_fn = name, run

  def jax_frame_maps(self, inputs: np.ndarray) -> np.ndarray:
    """``frame_maps`` in JAX: jitted bucketed batches (see ``predict_inputs``)."""
    if "flows" in self.inputs:
      frame_fn = self._flowing()[0]
      fn = lambda chunk: frame_fn(self.params, chunk)  # noqa: E731
    else:
      fn = lambda chunk: self._predict(self.params, chunk)  # noqa: E731
    h = self.input_size // self.stride
    out = batching.run_bucketed(fn, inputs, self.batch_size)
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, h, h, NUM_JOINTS), np.float32)

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
    """inputs [N, S, S, 3] uint8 -> heatmaps [N, h, w, J] float32 (``frame_maps``).

    In JAX, runs in jitted batches of ``batch_size``, the last one padded to
    the smallest of ``batching.batch_buckets(batch_size)`` that fits: one
    compilation per bucket, whatever N. Single-frame models only; the flowing
    model needs windows (``predict_batch``, ``video.flowing_maps``).
    """
    if self.inputs != ("image",):
      raise FlowposeError(f"{self.config.model.name} takes temporal windows, not single images: "
                          f"use predict_batch with a window batch, or flowing_heatmaps on a video")
    return self.frame_maps(inputs)

  def heatmaps(self, frames, boxes=None) -> np.ndarray:
    """frames [T, H, W, 3] uint8 -> heatmaps [T, h, w, 7] float32 (h = S / stride; 64 for the paper model)."""
    inputs, _ = self.preprocess(frames, boxes)
    return self.predict_inputs(inputs)

  def pool_windows(self, maps: np.ndarray, flows: np.ndarray, confidence: np.ndarray):
    """A flowing model's pooling: maps [B, T, h, w, J], flows [B, T, h, w, 2], confidence
    [B, T, h, w, 1] -> pooled [B, h, w, J] (a jax.Array, dispatched: ``np.asarray`` waits).

    Jitted once per B: pad B to a bucket (``batching.bucket_chunks``)."""
    return self._flowing()[1](self.params, maps, flows, confidence)

  def _flowing(self):
    """Jitted per-frame HeatmapNet and window pooling of a flowing model (``models.flowing_parts``)."""
    if self._flowing_fns is None:
      frame, pool = flowing_parts(self.graphdef)
      self._flowing_fns = jax.jit(frame), jax.jit(pool)
    return self._flowing_fns
