"""Which runtime runs a Predictor's per-frame network: ``flowpose predict --runtime jax|onnx|auto``.

  jax   jitted JAX, bucketed batches (``inference.FrameModel.jax_frame_maps``); the default;
  onnx  the ONNX export of the frame part (``export.onnx_format.convert``, kept
        in memory) on onnxruntime, in batches of 1 or ``batch_size`` frames,
        whichever is faster on the first input;
  auto  the fastest of those: timed once on the first input of at least
        ``AUTO_MIN_FRAMES`` frames (its first ``batch_size`` frames, after a
        warm-up on the same shape), kept for the rest of the run. Smaller
        inputs (single images) stay on JAX: converting would cost more than it
        saves. Without jax2onnx or onnxruntime, or when the conversion fails,
        auto keeps JAX and says why in the log (``flowpose predict`` says so
        on stderr too when no input was large enough to decide).

The frame part is the one ``flowpose export`` writes (``export.spec.parts``):
HeatmapNet + fusion of a single-frame model, or a flowing model's per-frame
maps; a flowing model's pooling always runs in JAX. onnxruntime's float32
kernels differ from XLA's by ~1e-6 on the heatmaps (tests/export/test_export.py).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from flowpose_jax import workdir as workdir_lib
from flowpose_jax.errors import FlowposeError
from flowpose_jax.export import onnx_format, spec as spec_lib

RUNTIMES = ("auto", "jax", "onnx")
AUTO_MIN_FRAMES = 16  # smaller first inputs keep JAX (a single image does not pay for a conversion)
CONVERTER_INFO_LOGGER = "onnx_ir.passes.common.unused_removal"  # "Removed N unused nodes" at every conversion

log = logging.getLogger(__name__)


class OnnxFrames:
  """A Predictor's frame part as an in-memory ONNX graph on onnxruntime.

  ``__call__(inputs [N, S, S, 3] uint8) -> [N, h, w, J] float32``, in
  unpadded batches of ``batch`` frames (the graph's batch is dynamic).
  """

  def __init__(self, predictor, batch: int = 1):
    try:
      import onnxruntime  # pylint: disable=import-outside-toplevel
    except ImportError:
      raise FlowposeError(f"--runtime onnx needs onnxruntime and jax2onnx: {onnx_format.INSTALL}") from None
    part = spec_lib.parts(workdir_lib.Trained(predictor.config, predictor.graphdef, predictor.params, step=0))[0]
    quiet = logging.getLogger(CONVERTER_INFO_LOGGER)
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
      model = onnx_format.convert(part)
    finally:
      quiet.setLevel(level)
    options = onnxruntime.SessionOptions()
    # Idle onnxruntime threads spin by default, taking the CPU from the JAX pooling and OpenCV flow.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    self._session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                                 providers=["CPUExecutionProvider"])
    self._name = part.inputs[0][0]
    self.batch = batch

  def with_batch(self, batch: int) -> OnnxFrames:
    """The same session, run in batches of ``batch``."""
    other = object.__new__(OnnxFrames)
    other._session, other._name, other.batch = self._session, self._name, batch  # pylint: disable=protected-access
    return other

  def __call__(self, inputs: np.ndarray) -> np.ndarray:
    out = [self._session.run(None, {self._name: inputs[i:i + self.batch]})[0]
           for i in range(0, len(inputs), self.batch)]
    return np.concatenate(out).astype(np.float32)


def _fastest(candidates: dict, sample: np.ndarray) -> tuple[str, dict]:
  """The name of the fastest ``candidates[name](sample)`` after one warm-up call each, and every frames/s."""
  rates = {}
  for name, run in candidates.items():
    run(sample)  # compiles / allocates at this shape
    tick = time.perf_counter()
    run(sample)
    rates[name] = len(sample) / (time.perf_counter() - tick)
  return max(rates, key=rates.get), rates


class _Choice:
  """Chooses the runtime on the first large enough call, installs it, then runs the call through it."""

  def __init__(self, predictor, onnx: OnnxFrames | None, allow_jax: bool):
    self._predictor, self._onnx, self._allow_jax = predictor, onnx, allow_jax

  def __call__(self, inputs: np.ndarray) -> np.ndarray:
    p = self._predictor
    if self._allow_jax and len(inputs) < AUTO_MIN_FRAMES:
      return p.jax_frame_maps(inputs)  # undecided: the next, larger input decides
    candidates = {}
    if self._allow_jax:
      candidates["jax"] = p.jax_frame_maps
    try:
      onnx = self._onnx or OnnxFrames(p)
    except Exception as e:  # pylint: disable=broad-except  (auto: any failure to convert keeps JAX)
      log.info("runtime auto: jax (onnxruntime not usable: %s)", str(e).splitlines()[0])
      p.set_runtime("jax")
      return p.frame_maps(inputs)
    for batch in sorted({1, min(p.batch_size, len(inputs))}):
      candidates[f"onnx_b{batch}"] = onnx.with_batch(batch)
    best, rates = _fastest(candidates, inputs[:p.batch_size])
    log.info("runtime %s: %s (frames/s on %d inputs %dx%d: %s)", "auto" if self._allow_jax else "onnx",
             best, min(p.batch_size, len(inputs)), p.input_size, p.input_size,
             ", ".join(f"{k} {v:.1f}" for k, v in rates.items()))
    if best == "jax":
      p.set_runtime("jax")
    else:
      p.set_runtime("onnxruntime", candidates[best])
    return p.frame_maps(inputs)


def use(predictor, runtime: str) -> None:
  """Sets ``predictor``'s runtime (``RUNTIMES``); "onnx" and "auto" settle on the first (large enough) call.

  "onnx" converts now, and fails with the install line when jax2onnx or
  onnxruntime are missing; "auto" converts at its first large input and
  keeps JAX if it cannot.
  """
  if runtime not in RUNTIMES:
    raise FlowposeError(f"--runtime {runtime}: choose one of {', '.join(RUNTIMES)}")
  if runtime == "jax":
    predictor.set_runtime("jax")
  elif runtime == "onnx":
    predictor.set_runtime("onnx", _Choice(predictor, OnnxFrames(predictor), allow_jax=False))
  else:
    predictor.set_runtime("auto", _Choice(predictor, None, allow_jax=True))
