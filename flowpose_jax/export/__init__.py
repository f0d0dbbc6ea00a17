"""Export a trained workdir to other runtimes: one module per format, a JSON spec beside each export.

  flowpose export --workdir DIR --format onnx --out DIR_OUT [--maps heatmap|fusion|pooled]

Formats (``FORMATS``):
  safetensors  raw weights, named and laid out as ``weights`` documents, and
               ``torch_net`` that rebuilds the HeatmapNet from them in PyTorch;
  stablehlo    ``jax.export`` of each part, symbolic batch (``stablehlo``);
  onnx         jax2onnx of each part, dynamic batch (``onnx_format``);
  savedmodel   TF SavedModel of each part through jax2tf, dynamic batch, and
  tflite       TFLite converted from it (``tensorflow_format``; TensorFlow is
               the optional ``tf`` extra).

A single-frame model exports one part ("frame"); a flowing model exports
"frame" and "pool" (``spec`` documents the split). Every export writes
``<out>/<format>.json``: input size, pixel normalisation, stride, joint names,
the parts' signatures.
"""

from __future__ import annotations

import os

from flowpose_jax import workdir as workdir_lib
from flowpose_jax.errors import ConfigError
from flowpose_jax.export import onnx_format, spec, stablehlo, tensorflow_format, weights

FORMATS = {"safetensors": weights.export, "stablehlo": stablehlo.export, "onnx": onnx_format.export,
           "savedmodel": tensorflow_format.export_savedmodel, "tflite": tensorflow_format.export_tflite}


def export(trained: workdir_lib.Trained, fmt: str, out_dir: str, output: str | None = None) -> list[str]:
  """Writes ``trained`` in format ``fmt`` into the folder ``out_dir`` (created); returns the files written."""
  if fmt not in FORMATS:
    raise ConfigError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
  os.makedirs(out_dir, exist_ok=True)
  return FORMATS[fmt](trained, out_dir, output)


def export_workdir(workdir: str, fmt: str, out_dir: str, output: str | None = None,
                   step: int | None = None) -> list[str]:
  """``export`` of a training workdir's latest (or given) checkpoint."""
  return export(workdir_lib.load(workdir, step), fmt, out_dir, output)


__all__ = ["FORMATS", "export", "export_workdir", "spec", "weights", "stablehlo", "onnx_format", "tensorflow_format"]
