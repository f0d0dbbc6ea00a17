"""ONNX export through jax2onnx: ``<part>.onnx`` + ``<format>.json``.

Dynamic batch "B", named inputs/outputs as in the spec, weights as
initializers, opset 23; the spec is also in the model's metadata_props
("flowpose", JSON; plus "joint_names", "input_size", "output_stride").
Run it with onnxruntime:

  session = onnxruntime.InferenceSession("frame.onnx")
  maps, = session.run(None, {"image": images})  # [B, S, S, 3] uint8 -> [B, h, w, J]

jax2onnx 0.17.1 declares ``orbax-checkpoint<0.11.37`` but never imports orbax,
so it is installed without its dependencies (``pip install --no-deps
jax2onnx==0.17.1``; its real run-time ones, onnx and onnx-ir, are in the
``export`` extra): resolving it normally would downgrade the orbax this
project checkpoints with.
"""

from __future__ import annotations

import json
import logging
import os

from flowpose_jax.errors import FlowposeError
from flowpose_jax.export import spec as spec_lib
from flowpose_jax.export.stablehlo import input_specs

SUFFIX = ".onnx"
OPSET = 23
QUIET_LOGGERS = ("jax2onnx.plugins.plugin_system", "onnx_ir.serde")
INSTALL = "pip install -c constraints.txt -e '.[export]' && pip install --no-deps jax2onnx==0.17.1"


def convert(part: spec_lib.Part):
  """One part -> onnx ModelProto with a dynamic batch."""
  try:
    import jax2onnx  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise FlowposeError(f"ONNX export needs jax2onnx and onnx: {INSTALL}") from None
  # jax2onnx imports every plugin, warning with a traceback for each optional library
  # (equinox, dm_pix) that is absent, and onnx_ir warns of shape values it leaves
  # untyped; neither concerns these graphs (onnxruntime checks them in the tests).
  loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
  levels = [log.level for log in loggers]
  for log in loggers:
    log.setLevel(logging.ERROR)
  try:
    return jax2onnx.to_onnx(part.fn, input_specs(part, spec_lib.BATCH), model_name=f"flowpose_{part.name}",
                            opset=OPSET, input_names=[name for name, _, _ in part.inputs],
                            output_names=[part.output[0]])
  finally:
    for log, level in zip(loggers, levels):
      log.setLevel(level)


def export(trained, out_dir: str, output: str | None = None) -> list[str]:
  """Writes one ``<part>.onnx`` per part and ``<format>.json``; returns their paths."""
  parts = spec_lib.parts(trained, output)
  files = {p.name: p.name + SUFFIX for p in parts}
  spec = spec_lib.runtime_spec(trained, output, "onnx", parts, files)
  spec["opset"] = OPSET
  paths = []
  for part in parts:
    model = convert(part)
    import onnx  # pylint: disable=import-outside-toplevel  (present once convert found jax2onnx)
    onnx.helper.set_model_props(model, {
        "flowpose": json.dumps(spec), "part": part.name, "joint_names": ",".join(spec["joint_names"]),
        "input_size": str(spec["input_size"]), "output_stride": str(spec["output_stride"])})
    paths.append(os.path.join(out_dir, files[part.name]))
    onnx.save(model, paths[-1])
  return paths + [spec_lib.write_spec(out_dir, spec)]
