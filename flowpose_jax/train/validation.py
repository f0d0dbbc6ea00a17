"""Checks of a whole training config, run before anything is written or built.

``validate_config`` refuses every value that cannot work with one
``ConfigError`` line naming the key and what it takes. Valid choices come from
the modules that consume them (``MODELS``, ``FUSION_VARIANTS``, ``DTYPES``,
``POOLING``, ``CROP_MODES``, the flow and optimizer builders), never from a
copied list.
"""

from __future__ import annotations

import math
import os

import jax
import ml_collections

from flowpose_jax import losses, workdir as workdir_lib
from flowpose_jax.data import windows
from flowpose_jax.data.augment import CROP_MODES
from flowpose_jax.errors import ConfigError
from flowpose_jax.models import FUSION_VARIANTS, MODELS, POOLING, PRECOMPUTED_MAPS, model_inputs
from flowpose_jax.models.heatmap_net import DTYPES, OUTPUT_STRIDE
from flowpose_jax.parallel import split_batch
from flowpose_jax.train.state import make_optimizer

NO_FUSION = "none"  # model.fusion without the fusion layers (HeatmapNet: SpatialNet alone)
# Keys that must be >= 1 (steps, periods, batch sizes) and >= 0 (counts, strengths, weights).
AT_LEAST_ONE = ("input.size", "input.stride", "num_train_steps", "log_every", "checkpoint_every",
                "keep_checkpoints", "eval.batch_size", "grad_accum_steps")
NON_NEGATIVE = ("seed", "eval_every", "timelapse_frames", "input.workers", "input.box_margin",
                "input.joints_margin", "augment.blur", "augment.rotation", "augment.translate", "augment.brightness", "augment.contrast",
                "augment.saturation", "optimizer.warmup_steps", "optimizer.weight_decay",
                "optimizer.grad_clip", "loss.heatmap_weight", "loss.fusion_weight", "loss.pooled_weight",
                "loss.coords_weight",
                "eval.max_examples", "eval.max_distance")
PROBABILITIES = ("augment.occlusion", "augment.whole_frame")  # in [0, 1]
POSITIVE = ("optimizer.learning_rate", "input.sigma", "model.width", "eval.threshold", "loss.robust_scale")


def _get(config, key: str):
  """The value at dotted ``key``, or None where the config has no such key (its reader's default applies)."""
  for part in key.split("."):
    if part not in config:
      return None
    config = config[part]
  return config


def _check_finite(config, prefix: str = "") -> None:
  for name, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      _check_finite(value, f"{prefix}{name}.")
    elif isinstance(value, float) and not math.isfinite(value):
      raise ConfigError(f"config.{prefix}{name}={value} is not a finite number; give a finite value")


def _check_choice(key: str, value, choices) -> None:
  if value not in choices:
    raise ConfigError(f"config.{key}={value!r} is not one of {sorted(choices)}")


def _check_model(config) -> None:
  model = config.model
  _check_choice("model.name", model.name, MODELS)
  if "fusion" in model:
    _check_choice("model.fusion", model.fusion, (*FUSION_VARIANTS, NO_FUSION))
  _check_choice("model.dtype", model.dtype, DTYPES)
  _check_choice("loss.kind", config.loss.kind, losses.LOSSES)
  if model.name != "coordinate_net" and int(model.get("output_stride", OUTPUT_STRIDE)) != int(config.input.stride):
    raise ConfigError(f"config.input.stride={config.input.stride} (the targets' grid) differs from the "
                      f"network's output stride {model.get('output_stride', OUTPUT_STRIDE)} "
                      f"(config.model.output_stride): set both to 4, or both to 2 (the refine head; also "
                      f"double config.input.sigma to keep the Gaussians' width in input px)")
  temporal = "flows" in model_inputs(model)
  if temporal != (config.get("flow") is not None):
    raise ConfigError(f"config.model.name={model.name!r} " + (
        "takes temporal windows but the config has no flow section: start from configs/flow.py"
        if temporal else "is single-frame but the config has a flow section (config.flow): remove it, "
        "or use model.name='flowing_net'"))
  if temporal:
    _check_choice("model.pooling", model.pooling, POOLING)
    n = windows.flow_settings(config).n
    if model.num_frames != 2 * n + 1:
      raise ConfigError(f"config.model.num_frames={model.num_frames} must be 2 * config.flow.n + 1 = {2 * n + 1} "
                        f"(set config.flow.n; configs/flow.py ties the two)")
    if windows.flow_settings(config).maps == PRECOMPUTED_MAPS:
      _check_precomputed(config)
  workdir_lib.abstract_model(config)  # refuses keys the model does not take (shapes only, no memory)


def _check_precomputed(config) -> None:
  """Precomputed maps stand for a HeatmapNet that never changes and is not trained."""
  fix = "or set config.flow.maps='network'"
  if "spatial" not in tuple(config.model.get("freeze", ())) or config.model.get("finetune_spatial"):
    raise ConfigError("config.flow.maps='precomputed' computes the HeatmapNet's maps once, so it must stay "
                      "frozen: set config.model.freeze=('spatial',) and config.model.finetune_spatial=False, "
                      + fix)
  for key in ("heatmap_weight", "fusion_weight"):
    if config.loss[key]:
      raise ConfigError(f"config.loss.{key}={config.loss[key]} trains the HeatmapNet's own outputs, which "
                        f"precomputed maps (config.flow.maps='precomputed') do not have: set it to 0, " + fix)
  if not config.get("init_from"):
    raise ConfigError("config.flow.maps='precomputed' precomputes a trained HeatmapNet's maps: set "
                      "config.init_from to the single-frame workdir, " + fix)


def validate_config(config) -> None:
  """Raises ConfigError naming the key for values that cannot work.

  Checks: every float finite; ``model.*`` names (``MODELS``, fusion, dtype,
  pooling, window length); ``flow.*`` (source, mode, n); ``optimizer.name``
  and ``schedule`` (by building the optimizer); ``input.crop``; counts, steps
  and strengths in range; the global batch divisible by the devices;
  ``init_from`` a workdir with checkpoints.
  """
  _check_finite(config)
  accum = int(config.grad_accum_steps)
  split_batch(config.batch_size, jax.device_count() * max(accum, 1),
              "devices" if accum == 1 else f"devices x config.grad_accum_steps={accum} microbatches")
  if not config.dataset.name:
    raise ConfigError("config.dataset.name is empty; give a TFDS name[/config], e.g. synthetic_signers/demo")
  for keys, ok, rule in ((AT_LEAST_ONE, lambda v: v >= 1, ">= 1"), (NON_NEGATIVE, lambda v: v >= 0, ">= 0"),
                         (POSITIVE, lambda v: v > 0, "> 0")):
    for key in keys:
      value = _get(config, key)
      if value is not None and not ok(value):
        raise ConfigError(f"config.{key}={value} must be {rule}")
  for key in PROBABILITIES:
    value = _get(config, key)
    if value is not None and not 0 <= value <= 1:
      raise ConfigError(f"config.{key}={value} must be a probability in [0, 1]")
  if config.get("timelapse_frames") and config.timelapse_every < 1:
    raise ConfigError(f"config.timelapse_every={config.timelapse_every} must be >= 1 "
                      f"(or set config.timelapse_frames=0 for no timelapse)")
  if not 0 <= config.optimizer.momentum < 1:
    raise ConfigError(f"config.optimizer.momentum={config.optimizer.momentum} must be in [0, 1)")
  if len(config.augment.scale) != 2 or not 0 < config.augment.scale[0] <= config.augment.scale[1]:
    raise ConfigError(f"config.augment.scale={tuple(config.augment.scale)} must be (low, high) "
                      f"with 0 < low <= high, e.g. (0.8, 1.2)")
  if config.input.size % config.input.stride:
    raise ConfigError(f"config.input.size={config.input.size} must be divisible by "
                      f"config.input.stride={config.input.stride}")
  if config.input.size % 4:
    raise ConfigError(f"config.input.size={config.input.size} must be divisible by 4 (two 2x2 pools)")
  _check_choice("input.crop", config.input.crop, CROP_MODES)
  if config.input.get("spatial_crop"):
    _check_choice("input.spatial_crop", config.input.spatial_crop, CROP_MODES)
  _check_model(config)
  if "flow" in config:
    windows.flow_settings(config)
  make_optimizer(config.optimizer, config.num_train_steps)  # refuses optimizer.name / schedule
  init_from = config.get("init_from") and workdir_lib.resolve(config.init_from)
  if init_from and not (os.path.isdir(workdir_lib.checkpoint_dir(init_from)) or workdir_lib.is_shipped(init_from)):
    where = ("" if os.path.isabs(config.init_from)
             else f" (read from the current directory: {os.path.abspath(config.init_from)})")
    make = config.get("init_from_command", "")
    names = workdir_lib.shipped_names()
    shipped = f", or a shipped model's name ({', '.join(names)})" if names else ""
    fix = (f"make it with `{make}` (from this folder), or give another run's workdir with "
           f"--config.init_from=DIR{shipped}" if make
           else f"give the workdir of an earlier (single-frame) run{shipped}, or run from the folder that holds it")
    raise ConfigError(f"config.init_from={config.init_from!r} has no {workdir_lib.CHECKPOINT_DIR}/ folder{where}; "
                      f"{fix}")


__all__ = ["validate_config"]
