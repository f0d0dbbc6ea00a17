"""What an export holds: the model's parts as pure functions, and the runtime spec beside them.

A single-frame model exports one part, "frame". A flowing model exports two
(the split another runtime needs to run flowing inference with its own
OpenCV flow):

  frame  images [B, S, S, 3] uint8 RGB -> maps [B, h, w, J] float32, the
         HeatmapNet + fusion, run once per video frame;
  pool   maps [B, T, h, w, J] (the frame part's maps of frames t-n..t+n, clipped
         to the video), flows [B, T, h, w, 2] (heatmap px, centre frame t ->
         frame t+k, zero at the centre), confidence [B, T, h, w, 1] ->
         pooled maps [B, h, w, J] of frame t: warp to t, then the trained pooling.

The spec (``runtime_spec``, written as ``<format>.json`` beside every artefact and
into ONNX/safetensors metadata) says how to feed and read them: input size,
pixel normalisation, stride, joint names, the parts' signatures.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable

from flax import nnx

from flowpose_jax import fileio, joints as joints_lib
from flowpose_jax.errors import ConfigError
from flowpose_jax.models import flowing_parts
from flowpose_jax.models import FUSION_VARIANTS, forward_fn
from flowpose_jax.models.heatmap_net import (FUSION_INPUTS, OUTPUT_STRIDE, PIXEL_CENTRE, PIXEL_SCALE, REFINE_FEATURES,
                                           REFINE_KEY, SPATIAL_LAYERS)

SPEC_VERSION = 1
BATCH = "B"  # the symbolic (dynamic) batch dimension of every input and output
OUTPUTS = ("heatmap", "fusion", "pooled")


@dataclasses.dataclass(frozen=True)
class Part:
  """One exported function, params closed over.

  Attributes:
    name: "frame" or "pool".
    fn: ``fn(*inputs) -> [B, h, w, J] float32``.
    inputs: ((name, shape with ``BATCH`` first, numpy dtype name), ...).
    output: (name, shape).
    doc: one line for the spec.
  """
  name: str
  fn: Callable
  inputs: tuple[tuple[str, tuple, str], ...]
  output: tuple[str, tuple]
  doc: str


def _check_output(config, output: str | None) -> None:
  flowing = config.model.name == "flowing_net"
  if output is None:
    return
  if output not in OUTPUTS:
    raise ConfigError(f"--maps {output}: choose one of {', '.join(OUTPUTS)}")
  if output == "pooled" and not flowing:
    raise ConfigError(f"--maps pooled needs a flowing model; this workdir's model is {config.model.name!r} "
                      f"(use heatmap or fusion, or a workdir trained with configs/flow.py)")
  if output == "fusion" and config.model.get("fusion", "release") == "none":
    raise ConfigError("--maps fusion: this model has no fusion layers (config.model.fusion='none'); "
                      "use --maps heatmap")
  if config.model.name == "coordinate_net":
    raise ConfigError(f"--maps {output}: a coordinate_net has only its rendered coordinate maps; "
                      f"omit --maps")


def parts(trained, output: str | None = None) -> list[Part]:
  """The parts to export of a ``workdir.Trained`` (default output: the final one).

  ``output``: "heatmap" (conv8) or "fusion" export that map of the frame part
  alone; "pooled" (a flowing model's default) exports "frame" and "pool".
  """
  config, graphdef, params = trained.config, trained.graphdef, trained.params
  _check_output(config, output)
  s = int(config.input.size)
  h = s // int(config.input.stride)
  j = joints_lib.NUM_JOINTS
  image = (("image", (BATCH, s, s, 3), "uint8"),)
  maps_shape = (BATCH, h, h, j)
  frame_doc = "uint8 RGB network inputs -> per-frame heatmaps"
  if config.model.name != "flowing_net":
    forward = forward_fn(graphdef, output)
    return [Part("frame", lambda x: forward(params, x), image, ("heatmaps", maps_shape), frame_doc)]
  if output in ("heatmap", "fusion"):
    def spatial_output(x):
      return nnx.merge(graphdef, params).spatial(x)[output]
    return [Part("frame", spatial_output, image, ("heatmaps", maps_shape), frame_doc)]
  frame, pool = flowing_parts(graphdef)
  t = int(config.model.num_frames)
  window = (("maps", (BATCH, t, h, h, j), "float32"), ("flows", (BATCH, t, h, h, 2), "float32"),
            ("confidence", (BATCH, t, h, h, 1), "float32"))
  return [Part("frame", lambda x: frame(params, x), image, ("heatmaps", maps_shape), frame_doc),
          Part("pool", lambda m, f, c: pool(params, m, f, c), window, ("pooled", maps_shape),
               "a window's per-frame maps + flows centre -> frame -> the centre frame's pooled heatmaps")]


def architecture(config) -> dict:
  """The HeatmapNet's wiring, for rebuilding it from the weights (``torch_net``).

  Kernel sizes and channels are the tensors' shapes; this gives the order,
  pooling, fusion inputs and tensor-name prefixes.
  """
  if config.model.name not in ("heatmap_net", "flowing_net"):
    return {"heatmap_net": None, "why": f"{config.model.name} is not a HeatmapNet"}
  prefix = "spatial." if config.model.name == "flowing_net" else ""
  names = [name for name, *_ in SPATIAL_LAYERS]
  fusion = config.model.get("fusion", "release")
  return {"heatmap_net": {
      "layers": [{"name": name, "tensors": f"{prefix}convs.{i}", "relu": True, "max_pool_2x2_after": pool}
                 for i, (name, _, _, pool) in enumerate(SPATIAL_LAYERS)],
      "conv8": {"tensors": f"{prefix}conv8", "relu": bool(config.model.get("final_relu", False))},
      "fusion": None if fusion == "none" else {
          "variant": fusion,
          "inputs": [names.index(n) for n in FUSION_INPUTS],  # post-ReLU (and post-pool) layer outputs, concatenated
          "hidden": [f"{prefix}fusion.hidden.{i}" for i in range(len(FUSION_VARIANTS[fusion]))],  # conv + ReLU
          "out": f"{prefix}fusion.out"},  # linear
      "refine": None if int(config.model.get("output_stride", OUTPUT_STRIDE)) == OUTPUT_STRIDE else {
          "upsample": ("every output 2x bilinear, half-pixel centres, border repeated (PyTorch interpolate "
                       "bilinear, align_corners=False)"),
          "features": names.index(REFINE_FEATURES),  # post-ReLU, post-pool layer output (stride 2)
          "hidden": f"{prefix}{REFINE_KEY}.0",  # conv + ReLU on [upsampled final maps, features]
          "out": f"{prefix}{REFINE_KEY}.1",  # linear, added to the upsampled final maps
          "final": "fusion" if fusion != "none" else "heatmap"},
      "padding": "SAME: stride 1, pad (k - 1) // 2 before and k // 2 after, zeros",
  }}


def runtime_spec(trained, output: str | None, fmt: str, exported: list[Part], files: dict[str, str]) -> dict:
  """The JSON-able description of an export (``<format>.json``); ``files``: part name -> file name."""
  config = trained.config
  s, stride = int(config.input.size), int(config.input.stride)
  spec = {
      "flowpose_export": SPEC_VERSION,
      "format": fmt,
      "model": config.model.name,
      "step": int(trained.step),
      "output": output or ("pooled" if config.model.name == "flowing_net" else "final"),
      "joint_names": list(joints_lib.JOINT_NAMES),
      "input_size": s,
      "output_stride": stride,
      "heatmap_size": s // stride,
      "pixels": {
          "dtype": "uint8", "channels": "RGB", "layout": "NHWC",
          "scale": PIXEL_SCALE, "centre": PIXEL_CENTRE,
          "normalised_in_graph": True,
          "note": "feed raw uint8 RGB; the graph computes x * scale - centre",
      },
      "preprocess": ("frame -> input: cv2.warpAffine(frame, M, (S, S), INTER_LINEAR, BORDER_CONSTANT 0) with "
                     "M = flowpose_jax.heatmaps.letterbox_matrix(frame_hw, box, S): the box (default the whole "
                     "frame) scaled to fit, aspect kept, centred"),
      "decode": ("argmax (u, v) of each joint's map (+ sub-pixel refinement, flowpose_jax.heatmaps.decode); "
                 "input px = (u, v) * output_stride + (output_stride - 1) / 2; frame px = inverse of M"),
      "parts": {p.name: {
          "file": files.get(p.name),
          "doc": p.doc,
          "inputs": [{"name": n, "shape": list(shape), "dtype": dtype} for n, shape, dtype in p.inputs],
          "outputs": [{"name": p.output[0], "shape": list(p.output[1]), "dtype": "float32"}],
      } for p in exported},
  }
  if config.model.name == "flowing_net" and "pool" in spec["parts"]:
    spec["flowing"] = {
        "num_frames": int(config.model.num_frames),
        "window": "frames t-n..t+n, indices clipped to the video (causal: to t); T = 2n+1, centre index n",
        "flows": ("OpenCV dense flow centre frame t -> frame t+k between the S x S network inputs, mapped to "
                  "the heatmap grid by flowpose_jax.data.windows.flows_to_heatmap (heatmap px, 0 where "
                  "unknown), zero for the centre"),
        "confidence": ("1 where the flow is known and stays inside the frame, else 0 (flows_to_heatmap); "
                       "with flow_confidence 'fb' times the forward-backward consistency in [0, 1]"),
        "flow_confidence": str(config.get("flow", {}).get("confidence", "valid")),
        "spread": float(config.get("flow", {}).get("spread", 0.0)),
        "spread_doc": ("motion spread in input px: each heatmap pixel takes, of the flows sampled on a grid "
                       "within this radius of its point (spacing <= 2 px), the known one of largest magnitude "
                       "(0: its own point's flow; flows_to_heatmap's spread argument)"),
    }
  return spec


def spec_file(fmt: str) -> str:
  """The spec's file name in an export folder: ``<format>.json`` (formats can share a folder)."""
  return f"{fmt}.json"


def write_spec(out_dir: str, spec: dict) -> str:
  """Writes ``<out_dir>/<format>.json``; returns its path."""
  path = os.path.join(out_dir, spec_file(spec["format"]))
  fileio.write_text(path, json.dumps(spec, indent=2) + "\n")
  return path


def read_spec(out_dir: str, fmt: str) -> dict:
  """The spec of an export folder's ``fmt`` export."""
  with open(os.path.join(out_dir, spec_file(fmt)), encoding="utf-8") as f:
    return json.load(f)
