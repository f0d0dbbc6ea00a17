"""safetensors export of the raw weights: ``weights.safetensors`` + ``<format>.json``.

Tensor names are the params' pure-dict paths joined by "." (``nnx.to_pure_dict``
keys, list indices as numbers), float32, the layouts JAX uses:

  <layer>.kernel  conv: [kh, kw, in, out] (HWIO); activations are NHWC
  <layer>.bias    [out]
  pool.kernel     parametric pooling: [T, J] weight of frame t for joint j
  pool.bias       [J]

e.g. "convs.0.kernel" (conv1) .. "convs.6.kernel" (conv7), "conv8.kernel",
"fusion.hidden.0.kernel" .. "fusion.out.kernel"; a flowing model prefixes
its HeatmapNet with "spatial." and its pooler with "pool.". The file's
``__metadata__`` holds the spec under "flowpose" (JSON), with the wiring
(``spec.architecture``) that ``torch_net`` rebuilds the network from.
"""

from __future__ import annotations

import json
import os

import jax
import numpy as np
import safetensors
import safetensors.numpy

from flowpose_jax import workdir as workdir_lib
from flowpose_jax.errors import FlowposeError
from flowpose_jax.export import spec as spec_lib

FILE = "weights.safetensors"
METADATA_KEY = "flowpose"
LAYOUTS = {"conv kernel": "HWIO [kh, kw, in, out]", "bias": "[out]", "activations": "NHWC",
           "parametric pool kernel": "[T, J]"}


def flatten(params: dict) -> dict[str, np.ndarray]:
  """Pure-dict params -> {"a.b.0.kernel": float32 array}."""
  flat = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    flat[workdir_lib.param_key(path)] = np.ascontiguousarray(np.asarray(leaf, np.float32))
  return flat


def export(trained, out_dir: str, output: str | None = None) -> list[str]:
  """Writes ``weights.safetensors`` and ``<format>.json`` into ``out_dir``; returns their paths."""
  save_file = safetensors.numpy.save_file
  parts = spec_lib.parts(trained, output)
  spec = spec_lib.runtime_spec(trained, output, "safetensors", parts, {p.name: FILE for p in parts})
  spec["tensors"] = {"naming": "pure-dict param paths joined by '.'", "dtype": "float32", "layouts": LAYOUTS}
  spec["architecture"] = spec_lib.architecture(trained.config)
  path = os.path.join(out_dir, FILE)
  save_file(flatten(trained.params), path, metadata={METADATA_KEY: json.dumps(spec)})
  return [path, spec_lib.write_spec(out_dir, spec)]


def load(path: str) -> tuple[dict[str, np.ndarray], dict]:
  """A ``weights.safetensors`` -> (tensors by name, spec)."""
  with safetensors.safe_open(path, framework="numpy") as f:
    meta = f.metadata() or {}
    if METADATA_KEY not in meta:
      raise FlowposeError(f"{path} has no '{METADATA_KEY}' metadata: it was not written by "
                          f"`flowpose export --format safetensors`; export it again")
    return {k: f.get_tensor(k) for k in f.keys()}, json.loads(meta[METADATA_KEY])
