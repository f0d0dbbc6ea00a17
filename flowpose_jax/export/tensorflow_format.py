"""TF SavedModel and TFLite export through jax2tf: ``<part>.savedmodel/`` or ``<part>.tflite`` + ``<format>.json``.

Each part becomes a ``tf.function`` over ``jax2tf.convert`` (native
serialization: the part's StableHLO inside one ``XlaCallModule`` op, for CPU
and CUDA), the weights baked in as constants, the batch dimension dynamic.
The SavedModel's ``serving_default`` signature takes the spec's input names
and returns ``{output name: maps}``:

  model = tf.saved_model.load("frame.savedmodel")
  maps = model.signatures["serving_default"](image=images)["heatmaps"]  # [B, S, S, 3] uint8

TFLite is converted from that SavedModel (the converter lowers the StableHLO
to TFLite builtin ops). The frame part's batch is dynamic there too
(``shape_signature`` -1); a flowing model's pool part is exported for one
window at a time (``TFLITE_FIXED_BATCH``: TFLite lowers the bilinear warp's
gathers only with static operand shapes), and its spec says so:

  runner = tf.lite.Interpreter("frame.tflite").get_signature_runner()  # or ai_edge_litert's
  maps = runner(image=images)["heatmaps"]

TensorFlow is an optional extra (``INSTALL``): it is large and the rest of the
project never needs it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile

from flowpose_jax import fileio
from flowpose_jax.errors import FlowposeError
from flowpose_jax.export import spec as spec_lib

SUFFIXES = {"savedmodel": ".savedmodel", "tflite": ".tflite"}
PLATFORMS = ("cpu", "cuda")
INSTALL = "pip install -c constraints.txt -e '.[tf]'"
# Parts whose TFLite graph has a fixed batch ("'mhlo.gather' op Dynamic shaped operand is not supported").
TFLITE_FIXED_BATCH = {"pool": 1}


def fix_batch(part: spec_lib.Part, batch: int) -> spec_lib.Part:
  """``part`` with its symbolic batch replaced by ``batch`` in every input and its output."""
  def fixed(shape):
    return tuple(batch if d == spec_lib.BATCH else d for d in shape)
  return dataclasses.replace(part, inputs=tuple((n, fixed(shape), dtype) for n, shape, dtype in part.inputs),
                             output=(part.output[0], fixed(part.output[1])))


def _tensorflow():
  try:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from jax.experimental import jax2tf  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise FlowposeError(f"SavedModel/TFLite export needs TensorFlow ({e}): {INSTALL}") from None
  return tf, jax2tf


def _module(part: spec_lib.Part, platforms):
  """A ``tf.Module`` whose ``serve`` is the part, batch dynamic, output named as in the spec."""
  tf, jax2tf = _tensorflow()
  polymorphic = ["(" + ", ".join(str(d) for d in shape) + ")" for _, shape, _ in part.inputs]
  converted = jax2tf.convert(part.fn, polymorphic_shapes=polymorphic, with_gradient=False,
                             native_serialization_platforms=platforms)
  signature = [tf.TensorSpec([None if d == spec_lib.BATCH else d for d in shape], tf.as_dtype(dtype), name=name)
               for name, shape, dtype in part.inputs]
  module = tf.Module()
  module.serve = tf.function(lambda *inputs: {part.output[0]: converted(*inputs)}, input_signature=signature,
                             autograph=False)
  return module


def _save(part: spec_lib.Part, path: str, platforms) -> None:
  """Writes the SavedModel folder ``path``; an earlier one there is replaced only once the new one is whole."""
  tf, _ = _tensorflow()
  module = _module(part, platforms)
  with fileio.atomic_folder(path) as tmp:
    tf.saved_model.save(module, tmp, signatures={"serving_default": module.serve.get_concrete_function()})


def _tflite(part: spec_lib.Part, path: str) -> None:
  tf, _ = _tensorflow()
  with tempfile.TemporaryDirectory() as tmp:
    saved = os.path.join(tmp, "part.savedmodel")
    _save(part, saved, ("cpu",))  # the converter reads the CPU lowering
    try:
      flatbuffer = tf.lite.TFLiteConverter.from_saved_model(saved).convert()
    except Exception as e:  # the converter raises ConverterError and others, with its MLIR log
      raise FlowposeError(f"TFLite conversion of the {part.name!r} part failed: {type(e).__name__}: "
                          f"{str(e)[:2000]}") from None
  with open(path, "wb") as f:
    f.write(flatbuffer)


def _export(fmt: str, trained, out_dir: str, output: str | None, platforms=PLATFORMS) -> list[str]:
  _tensorflow()  # fail before any work if TensorFlow is absent
  parts = spec_lib.parts(trained, output)
  if fmt == "tflite":
    parts = [fix_batch(p, TFLITE_FIXED_BATCH[p.name]) if p.name in TFLITE_FIXED_BATCH else p for p in parts]
  files = {p.name: p.name + SUFFIXES[fmt] for p in parts}
  paths = []
  quiet = logging.getLogger("absl"), logging.getLogger("tensorflow")
  levels = [log.level for log in quiet]
  for log in quiet:
    log.setLevel(logging.ERROR)
  try:
    for part in parts:
      paths.append(os.path.join(out_dir, files[part.name]))
      if fmt == "savedmodel":
        _save(part, paths[-1], platforms)
      else:
        _tflite(part, paths[-1])
  finally:
    for log, level in zip(quiet, levels):
      log.setLevel(level)
  spec = spec_lib.runtime_spec(trained, output, fmt, parts, files)
  if fmt == "savedmodel":
    spec["platforms"] = list(platforms)
    spec["load"] = "tf.saved_model.load(dir).signatures['serving_default'](**inputs)[output name]"
  else:
    spec["load"] = ("tf.lite.Interpreter(file) (or ai_edge_litert.interpreter.Interpreter)"
                    ".get_signature_runner()(**inputs)[output name]")
  return paths + [spec_lib.write_spec(out_dir, spec)]


def export_savedmodel(trained, out_dir: str, output: str | None = None) -> list[str]:
  """Writes one ``<part>.savedmodel/`` per part and ``savedmodel.json``; returns their paths."""
  return _export("savedmodel", trained, out_dir, output)


def export_tflite(trained, out_dir: str, output: str | None = None) -> list[str]:
  """Writes one ``<part>.tflite`` per part and ``tflite.json``; returns their paths."""
  return _export("tflite", trained, out_dir, output)


def _single_output(outputs: dict, path: str):
  if len(outputs) != 1:
    raise FlowposeError(f"{path}: expected one output, got {sorted(outputs)}")
  return next(iter(outputs.values()))


def load_savedmodel(path: str):
  """A ``<part>.savedmodel`` folder -> ``call(**inputs) -> numpy output`` (inputs named as in the spec)."""
  tf, _ = _tensorflow()
  try:
    serve = tf.saved_model.load(path).signatures["serving_default"]
  except (OSError, ValueError, KeyError) as e:
    raise FlowposeError(f"{path} is not a readable SavedModel export ({type(e).__name__}: {e}); "
                        f"export it again with `flowpose export --format savedmodel`") from None
  return lambda **inputs: _single_output(serve(**{k: tf.constant(v) for k, v in inputs.items()}), path).numpy()


def load_tflite(path: str):
  """A ``.tflite`` file -> ``call(**inputs) -> numpy output``; the batch follows the inputs'."""
  tf, _ = _tensorflow()
  try:
    runner = tf.lite.Interpreter(model_path=path).get_signature_runner("serving_default")
  except (OSError, ValueError, RuntimeError) as e:
    raise FlowposeError(f"{path} is not a readable TFLite export ({type(e).__name__}: {e}); "
                        f"export it again with `flowpose export --format tflite`") from None
  return lambda **inputs: _single_output(runner(**inputs), path)
