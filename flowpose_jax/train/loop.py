"""``train_and_evaluate``: the training loop (resumable, data-parallel)."""

from __future__ import annotations

import json
import logging
import os
import time

import jax
import numpy as np
from tqdm import tqdm

from flowpose_jax import fileio, parallel, workdir as workdir_lib
from flowpose_jax.data import pipeline
from flowpose_jax.data.sources import load_source
from flowpose_jax.errors import ConfigError, TrainingDivergedError
from flowpose_jax.evaluate import evaluator
from flowpose_jax.evaluate.pck import accuracy_at
from flowpose_jax.models import forward_fn, model_inputs
from flowpose_jax.train import checkpoint as ckpt_lib
from flowpose_jax.train import state as state_lib
from flowpose_jax.train import step as step_lib
from flowpose_jax.train.validation import validate_config
from flowpose_jax.train.writer import MetricWriter

log = logging.getLogger("flowpose")
CONFIG_FILE = "config.json"
# Config sections that must match when resuming (they change the params' shapes or meaning).
RESUME_MUST_MATCH = ("model", "input")


def _check_resume_config(workdir: str, config) -> None:
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    return
  with open(path) as f:
    old = json.load(f)
  new = json.loads(config.to_json_best_effort())
  for section in RESUME_MUST_MATCH:
    if old.get(section) != new.get(section):
      raise ConfigError(
          f"{workdir} holds a run with a different config.{section} ({path}); resume with the same "
          f"config, or start a new --workdir")


def _default_flow_cache(config) -> None:
  """Computed (OpenCV) flow is cached beside the data unless a cache_dir is set,
  so it is computed once, never per epoch (the cache key includes the flow config)."""
  flow = config.get("flow")
  if flow is not None and flow.get("source", "gt") != "gt" and not flow.get("cache_dir"):
    from flowpose_jax.data.sources import resolve_data_dir  # pylint: disable=import-outside-toplevel
    flow.cache_dir = os.path.join(resolve_data_dir(config.dataset.data_dir), "flow_cache")


def _save_config(workdir: str, config) -> None:
  if jax.process_index() == 0:
    fileio.write_text(os.path.join(workdir, CONFIG_FILE), config.to_json_best_effort(indent=2))


def data_functions(config):
  """(make_train_iterator, make_eval_batches) for the configured model:
  single frames for HeatmapNet, temporal windows for the flowing model."""
  if "images" in model_inputs(config.model):
    from flowpose_jax.data import windows  # pylint: disable=import-outside-toplevel
    return windows.make_window_train_iterator, windows.make_window_eval_batches
  return pipeline.make_train_iterator, pipeline.make_eval_batches


def _summarise(sums: dict[str, float]) -> dict[str, float]:
  """(sum, count) pairs -> means; "loss"/"grad_norm" are averaged over steps."""
  out = {}
  for k, v in sums.items():
    if k.endswith("_sum"):
      base = k[: -len("_sum")]
      out[base] = v / max(sums[base + "_count"], 1.0)
    elif not k.endswith("_count") and k != "steps":
      out[k] = v / max(sums["steps"], 1.0)
  return out


def _timelapse_image(images: np.ndarray, hm: np.ndarray) -> np.ndarray:
  from flowpose_jax import visualize  # pylint: disable=import-outside-toplevel
  tiles = [visualize.heatmap_overlay(img, h) for img, h in zip(images, hm)]
  return visualize.montage(tiles, cols=len(tiles))


def train_and_evaluate(config, workdir: str, *, train_source=None, eval_source=None,
                       mesh=None, show_progress: bool = True, until_step: int | None = None
                       ) -> state_lib.TrainState:
  """Trains ``config`` in ``workdir``, resuming from its latest checkpoint.

  Args:
    config: ConfigDict (see configs/common.py).
    workdir: output folder (checkpoints, config.json, metrics, TensorBoard).
    train_source / eval_source: random-access record sequences; default: the
      TFDS splits named by ``config.dataset``.
    mesh: device mesh (default: all devices on a "data" axis).
    until_step: stop (with a checkpoint) after this step, as a preempted job
      would; the schedule still spans ``config.num_train_steps``.

  Returns:
    The final TrainState (replicated).
  """
  validate_config(config)
  _default_flow_cache(config)
  os.makedirs(workdir, exist_ok=True)
  _check_resume_config(workdir, config)
  _save_config(workdir, config)
  mesh = mesh or parallel.make_mesh()
  data_dir = config.dataset.data_dir
  if train_source is None:
    train_source = load_source(config.dataset.name, config.dataset.train_split, data_dir)
  if eval_source is None and config.dataset.eval_split:
    eval_source = load_source(config.dataset.name, config.dataset.eval_split, data_dir)

  graphdef, params = workdir_lib.make_model(config)
  if config.get("init_from"):
    params = state_lib.load_pretrained(params, config.init_from)
  tx = state_lib.make_optimizer(config.optimizer, config.num_train_steps,
                                freeze=tuple(config.model.get("freeze", ())))
  state = state_lib.init_state(params, tx)
  n_params = sum(x.size for x in jax.tree.leaves(params))
  make_train_iterator, make_eval_batches = data_functions(config)
  inputs = model_inputs(config.model)
  train_it = make_train_iterator(train_source, config)
  checkpointer = ckpt_lib.Checkpointer(workdir, config.keep_checkpoints)
  start = checkpointer.latest_step()
  if start is not None:
    state, _ = checkpointer.restore(state, train_it)
    log.info("resumed from %s step %d", checkpointer.directory, start)
  start = int(start or 0)
  state = parallel.replicate(mesh, state)
  train_step = step_lib.jit_train_step(mesh, graphdef=graphdef, tx=tx, loss_cfg=config.loss)
  predict = parallel.make_predict_fn(mesh, forward_fn(graphdef), inputs)
  writer = MetricWriter(workdir)
  meta = {"config": json.loads(config.to_json_best_effort()), "num_params": int(n_params),
          "num_devices": jax.device_count()}

  timelapse = None
  if eval_source is not None and config.timelapse_frames > 0:
    timelapse = next(iter(make_eval_batches(eval_source, config, batch_size=config.timelapse_frames,
                                                     max_examples=config.timelapse_frames)))

  log.info("model %s: %.2f M params; %d devices; global batch %d; steps %d -> %d",
           config.model.name, n_params / 1e6, jax.device_count(), config.batch_size, start,
           config.num_train_steps)
  sums: dict[str, float] = {}
  pending: list[dict] = []
  last_good = start if start else None
  window_start = start
  t0, seen = time.perf_counter(), 0
  end = config.num_train_steps if until_step is None else min(until_step, config.num_train_steps)
  bar = tqdm(range(start, end), initial=start, total=config.num_train_steps,
             desc="train", unit="step", disable=not show_progress or jax.process_index() != 0)
  for step in bar:
    batch = parallel.to_global_batch(mesh, next(train_it), inputs + step_lib.TARGET_KEYS)
    if step == start:
      bar.set_postfix_str("compiling the train step...")
    state, metrics = train_step(state, batch)
    pending.append(metrics)
    seen += config.batch_size
    done = step + 1
    is_last = done == end
    save_now = done % config.checkpoint_every == 0 or is_last
    if done % config.log_every == 0 or save_now:
      for m in jax.device_get(pending):
        for k, v in m.items():
          sums[k] = sums.get(k, 0.0) + float(v)
        sums["steps"] = sums.get("steps", 0.0) + 1
      pending = []
      summary = _summarise(sums)
      if not all(np.isfinite(v) for v in summary.values()):
        bad = {k: v for k, v in summary.items() if not np.isfinite(v)}
        where = (f"the last good checkpoint is step {last_good} in {checkpointer.directory}"
                 if last_good else "no checkpoint was saved yet")
        checkpointer.close()
        raise TrainingDivergedError(
            f"non-finite training metrics {bad} between steps {window_start + 1} and {done}; {where}. "
            f"Lower config.optimizer.learning_rate or enable config.optimizer.grad_clip, then rerun "
            f"(training resumes from the last good checkpoint)")
      elapsed = time.perf_counter() - t0
      summary["images_per_s"] = seen / max(elapsed, 1e-9)
      writer.scalars(done, {f"train/{k}": v for k, v in summary.items()})
      bar.set_postfix(loss=f"{summary['loss']:.4g}", img_s=f"{summary['images_per_s']:.1f}")
      sums, window_start = {}, done
      t0, seen = time.perf_counter(), 0
    if save_now:
      checkpointer.save(done, state, train_it, meta=dict(meta, step=done))
      last_good = done
    if timelapse is not None and (done % config.timelapse_every == 0 or is_last):
      tiles = _timelapse_image(timelapse["image"], predict(state.params, timelapse))
      writer.image(done, "timelapse/val_heatmaps", tiles)
      if jax.process_index() == 0:
        from flowpose_jax import media  # pylint: disable=import-outside-toplevel
        os.makedirs(os.path.join(workdir, "timelapse"), exist_ok=True)
        media.write_image(os.path.join(workdir, "timelapse", f"step_{done:07d}.png"), tiles)
    if eval_source is not None and config.eval_every and (done % config.eval_every == 0 or is_last):
      result = run_eval(predict, state.params, eval_source, config, desc="val")
      writer.scalars(done, {f"val/acc_{config.eval.threshold:g}px/{k}": v
                            for k, v in accuracy_at(result, config.eval.threshold).items()})
      writer.flush()
  checkpointer.close()
  writer.close()
  if hasattr(train_it, "close"):
    train_it.close()  # stops grain worker processes, if any
  return state


def run_eval(predict, params, source, config, *, desc: str = "eval", max_examples: int | None = None) -> dict:
  """Evaluates ``params`` on a record source with the config's eval transform."""
  max_examples = config.eval.max_examples if max_examples is None else max_examples
  n = len(source) if not max_examples else min(max_examples, len(source))
  bs = config.eval.batch_size
  batches = data_functions(config)[1](source, config, batch_size=bs, max_examples=max_examples)
  return evaluator.evaluate(lambda batch: predict(params, batch), batches, stride=config.input.stride,
                            max_distance=config.eval.max_distance, total=-(-n // bs), desc=desc)


__all__ = ["train_and_evaluate", "run_eval", "validate_config", "CONFIG_FILE"]
