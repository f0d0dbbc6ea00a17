"""Models, by name: ``MODELS[config.model.name]``."""

from __future__ import annotations

import inspect

from flax import nnx

from flowpose_jax.models.coordinate_net import CoordinateNet
from flowpose_jax.models.flowing_net import FlowingNet
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


def forward_fn(graphdef: nnx.GraphDef, output: str | None = None):
  """A split model's pure forward pass ``forward(params, *inputs) -> [B, h, w, J]``.

  ``inputs`` are the batch arrays named by the model's ``INPUTS`` (in order);
  ``output`` picks one of its outputs ("heatmap" = conv8, "fusion", "pooled"),
  default the final one (``final_heatmaps``).
  """

  def forward(params, *inputs):
    outputs = nnx.merge(graphdef, params)(*inputs)
    if output is None:
      return final_heatmaps(outputs, size=inputs[0].shape[-2] // OUTPUT_STRIDE)
    if output not in outputs:
      from flowpose_jax.errors import ConfigError
      raise ConfigError(f"output {output!r}: this model has outputs {sorted(outputs)}")
    return outputs[output]

  return forward


def model_inputs(model_cfg) -> tuple[str, ...]:
  """Batch keys the configured model's __call__ takes, in order."""
  return MODELS[model_cfg.name].INPUTS


__all__ = ["MODELS", "POOLING", "FUSION_VARIANTS", "OUTPUT_STRIDE", "CoordinateNet", "FlowingNet", "HeatmapNet",
           "SpatialFusion", "build_model", "final_heatmaps", "forward_fn", "model_inputs"]
