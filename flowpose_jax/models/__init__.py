"""Models, by name: ``MODELS[config.model.name]``."""

from __future__ import annotations

import inspect

from flax import nnx

# config.flow.maps = PRECOMPUTED_MAPS: windows carry the frozen HeatmapNet's maps (one home: flow.compute).
from flowpose_jax.flow.compute import NETWORK_MAPS, PRECOMPUTED_MAPS
from flowpose_jax.models.coordinate_net import CoordinateNet
from flowpose_jax.models.flowing_net import FlowingNet, flowing_parts
from flowpose_jax.models.fusion import FUSION_VARIANTS, SpatialFusion
from flowpose_jax.models.heatmap_net import OUTPUT_STRIDE, HeatmapNet, final_heatmaps
from flowpose_jax.models.pooling import POOLING

MODELS = {"heatmap_net": HeatmapNet, "flowing_net": FlowingNet, "coordinate_net": CoordinateNet}


def build_model(model_cfg, *, num_joints: int, seed: int) -> nnx.Module:
  """Builds ``MODELS[model_cfg.name]`` from a config section."""
  name = model_cfg.name
  if name not in MODELS:
    from flowpose_jax.errors import ConfigError
    raise ConfigError(f"config.model.name={name!r} is not a model; choose one of {sorted(MODELS)}")
  kwargs = {k: v for k, v in model_cfg.items() if k not in ("name", "freeze")}
  accepted = set(inspect.signature(MODELS[name].__init__).parameters) - {"self", "num_joints", "rngs"}
  unknown = sorted(set(kwargs) - accepted)
  if unknown:
    from flowpose_jax.errors import ConfigError
    raise ConfigError(f"config.model.{unknown[0]} does not apply to model {name!r} (it takes "
                      f"{', '.join(sorted(accepted))}): remove it from the config")
  return MODELS[name](num_joints=num_joints, rngs=nnx.Rngs(params=seed), **kwargs)


def apply(model: nnx.Module, inputs: dict) -> dict:
  """A model's outputs on a batch dict: ``model(*inputs[INPUTS])``, or, for a batch
  of precomputed per-frame maps (a "maps" key, ``FlowingNet.MAP_INPUTS``), its
  flowing part alone (``FlowingNet.pool_maps``)."""
  if "maps" in inputs and hasattr(model, "MAP_INPUTS"):
    return model.pool_maps(*[inputs[k] for k in model.MAP_INPUTS])
  return model(*[inputs[k] for k in model.INPUTS])


def forward_fn(graphdef: nnx.GraphDef, output: str | None = None, inputs: tuple[str, ...] | None = None):
  """A split model's pure forward pass ``forward(params, *arrays) -> [B, h, w, J]``.

  ``arrays`` are the batch arrays named by ``inputs`` (default the model's
  ``INPUTS``; ``model_inputs`` gives them for a config), in order;
  ``output`` picks one of its outputs ("heatmap" = conv8, "fusion", "pooled"),
  default the final one (``final_heatmaps``).
  """

  def forward(params, *arrays):
    model = nnx.merge(graphdef, params)
    outputs = apply(model, dict(zip(inputs or model.INPUTS, arrays)))
    if output is None:
      return final_heatmaps(outputs, size=arrays[0].shape[-2] // OUTPUT_STRIDE)
    if output not in outputs:
      from flowpose_jax.errors import ConfigError
      raise ConfigError(f"output {output!r}: this model has outputs {sorted(outputs)}")
    return outputs[output]

  return forward


def model_inputs(model_cfg, flow_cfg=None) -> tuple[str, ...]:
  """Batch keys the configured model takes, in order: its ``INPUTS``, or ``MAP_INPUTS``
  when ``flow_cfg`` (``config.flow``) has ``maps = "precomputed"``."""
  model = MODELS[model_cfg.name]
  if flow_cfg is not None and flow_cfg.get("maps", NETWORK_MAPS) == PRECOMPUTED_MAPS and hasattr(model, "MAP_INPUTS"):
    return model.MAP_INPUTS
  return model.INPUTS


__all__ = ["MODELS", "POOLING", "PRECOMPUTED_MAPS", "apply", "FUSION_VARIANTS", "OUTPUT_STRIDE", "CoordinateNet", "FlowingNet", "HeatmapNet",
           "SpatialFusion", "build_model", "final_heatmaps", "flowing_parts", "forward_fn", "model_inputs"]
