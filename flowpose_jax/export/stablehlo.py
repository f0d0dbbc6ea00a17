"""StableHLO export (``jax.export``): ``<part>.stablehlo`` + ``<format>.json``.

Each part is serialized with the weights baked in as constants and a
symbolic batch dimension "B", for CPU and CUDA. It reloads and runs with jax
alone, without this package's model code:

  exported = jax.export.deserialize(open("frame.stablehlo", "rb").read())
  maps = exported.call(images)  # images [B, S, S, 3] uint8, any B

(``exported.mlir_module()`` is the StableHLO text for other compilers.)
"""

from __future__ import annotations

import os

import jax
import numpy as np

from flowpose_jax.errors import FlowposeError
from flowpose_jax.export import spec as spec_lib

SUFFIX = ".stablehlo"
PLATFORMS = ("cpu", "cuda")


def input_specs(part: spec_lib.Part, batch) -> list[jax.ShapeDtypeStruct]:
  """A part's inputs as ShapeDtypeStructs, ``spec.BATCH`` replaced by ``batch`` (int or symbolic)."""
  return [jax.ShapeDtypeStruct(tuple(batch if d == spec_lib.BATCH else d for d in shape), np.dtype(dtype))
          for _, shape, dtype in part.inputs]


def export(trained, out_dir: str, output: str | None = None, platforms=PLATFORMS) -> list[str]:
  """Writes one ``<part>.stablehlo`` per part and ``<format>.json``; returns their paths."""
  parts = spec_lib.parts(trained, output)
  batch, = jax.export.symbolic_shape(spec_lib.BATCH)
  paths, files = [], {}
  for part in parts:
    exported = jax.export.export(jax.jit(part.fn), platforms=platforms)(*input_specs(part, batch))
    files[part.name] = part.name + SUFFIX
    paths.append(os.path.join(out_dir, files[part.name]))
    with open(paths[-1], "wb") as f:
      f.write(exported.serialize())
  spec = spec_lib.runtime_spec(trained, output, "stablehlo", parts, files)
  spec["platforms"] = list(platforms)
  spec["load"] = "jax.export.deserialize(bytes).call(*inputs)"
  return paths + [spec_lib.write_spec(out_dir, spec)]


def load(path: str):
  """A ``.stablehlo`` file -> ``call(*inputs) -> output`` (jax only; no model code)."""
  try:
    with open(path, "rb") as f:
      exported = jax.export.deserialize(bytearray(f.read()))
  except (OSError, ValueError) as e:
    raise FlowposeError(f"{path} is not a readable StableHLO export ({type(e).__name__}: {e}); "
                        f"export it again with `flowpose export --format stablehlo`") from None
  return exported.call
