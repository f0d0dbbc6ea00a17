"""``train_and_evaluate``: the training loop (resumable, data-parallel).

One run, in the order it happens:
  ``_prepare``      validate the config, open the data, build model + optimizer
                    (nothing is written before all of that has succeeded), then
                    write ``config.json``;
  ``_resume``       restore the latest intact checkpoint (state and data
                    position); ``metrics.jsonl`` keeps the rows up to it;
  the step loop     one jitted step per global batch; ``MetricWindow`` sums
                    metrics between log points and stops on non-finite ones
                    (``_diverged``: checkpoints holding the diverged
                    parameters are set aside);
  ``_after_step``   checkpoint, timelapse and validation at their intervals;
  a stop signal     SIGTERM/Ctrl-C (``preemption``): save the current step on
                    every process, then raise ``TrainingStopped``.

Several processes (``jax.distributed``): each reads its own shard of the
training data (``pipeline.make_train_iterator``), the global batch is the
processes' local batches in process order, and each process validates on its
own devices over the whole eval set (``_start_outputs``), so every process
computes the same scores and process 0 writes them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from typing import Any

import jax
import numpy as np
from tqdm import tqdm

from flowpose_jax import parallel, workdir as workdir_lib
from flowpose_jax.data import pipeline
from flowpose_jax.data.sources import load_source, load_train_source, resolve_data_dir
from flowpose_jax.errors import ConfigError, TrainingDivergedError
from flowpose_jax.evaluate import evaluator
from flowpose_jax.evaluate.pck import accuracy_at
from flowpose_jax.models import forward_fn, model_inputs
from flowpose_jax.train import checkpoint as ckpt_lib
from flowpose_jax.train import lock as lock_lib
from flowpose_jax.train.precomputed import precompute_maps
from flowpose_jax.train import preemption
from flowpose_jax.train import state as state_lib
from flowpose_jax.train import step as step_lib
from flowpose_jax.train.validation import validate_config
from flowpose_jax.train.writer import MetricWriter

log = logging.getLogger("flowpose")
# Resuming a workdir: every config key must match the saved config.json (the run's math: model,
# input size/crop, augmentation, loss, optimizer, data, seed, batch) except these, which change how
# or how long the same math is computed, what is logged, or what is scored. A prefix ending in "."
# covers a whole section.
RESUME_MAY_CHANGE = (
    "input.workers", "input.read_threads", "input.prefetch_batches",  # loader (another host's cores)
    "model.dtype", "model.remat", "grad_accum_steps",  # the same update, computed another way
    "num_train_steps",  # train longer (or stop sooner): the schedule is set by the new length
    "log_every", "eval_every", "checkpoint_every", "keep_checkpoints", "timelapse_every", "timelapse_frames",
    "eval.", "dataset.eval_split", "dataset.test_split", "dataset.data_dir", "flow.cache_dir",
    "init_from",  # read only when a run starts
)
# Fields added to configs/common.py after runs had started, each with the value that keeps the
# behaviour those runs had: a run resumed without the field in its config.json holds that value.
ADDED_FIELDS = {"dataset.train_shares": "", "dataset.subset_of": "", "dataset.reversed_torsos": "keep"}
# After a divergence the error asks for a lower learning rate, clip or longer warmup: then these may change.
RESUME_MAY_CHANGE_AFTER_DIVERGENCE = ("optimizer.",)


def _flat(tree: dict, prefix: str = "") -> dict:
  """{"a": {"b": 1}} -> {"a.b": 1}."""
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      out.update(_flat(value, f"{prefix}{key}."))
    else:
      out[prefix + key] = value
  return out


def resume_conflicts(old: dict, new: dict, *, diverged: bool = False) -> list[str]:
  """Config keys whose change refuses a resume, as "key: old -> new" (sorted).

  A key the old config lacks is no conflict when it is one of ``ADDED_FIELDS``
  at the value that keeps the behaviour runs had before it existed.

  Args:
    old, new: configs as plain dicts (``config.json`` of the workdir; this run's).
    diverged: the workdir set aside diverged checkpoints (``optimizer`` may change).
  """
  allowed = RESUME_MAY_CHANGE + (RESUME_MAY_CHANGE_AFTER_DIVERGENCE if diverged else ())
  return [c for c in config_changes(old, new)
          if not any(c.startswith(f"{a}:") or (a.endswith(".") and c.startswith(a)) for a in allowed)]


def config_changes(old: dict, new: dict) -> list[str]:
  """Every config key whose value differs, as "key: old -> new" (sorted), less a key the old config
  lacks that is one of ``ADDED_FIELDS`` at the value that keeps the behaviour runs had before it
  existed.

  Args:
    old, new: configs as plain dicts (a saved ``config.json``; this run's).
  """
  old, new = _flat(old), _flat(new)
  changed = sorted(k for k in old.keys() | new.keys() if old.get(k, "<unset>") != new.get(k, "<unset>")
                   # a field added since the run started, at its default (which keeps the old behaviour)
                   and not (k not in old and k in ADDED_FIELDS and new.get(k) == ADDED_FIELDS[k]))
  return [f"{k}: {old.get(k, '<unset>')!r} -> {new.get(k, '<unset>')!r}" for k in changed]


def _check_resume_config(workdir: str, config) -> None:
  old = workdir_lib.read_config(workdir)
  if old is None:
    return
  aside = workdir_lib.path(workdir, workdir_lib.SET_ASIDE_DIR)
  diverged = aside.exists() and any("-diverged-" in p.name for p in aside.iterdir())
  conflicts = resume_conflicts(json.loads(old.to_json_best_effort()), json.loads(config.to_json_best_effort()),
                               diverged=diverged)
  if conflicts:
    raise ConfigError(
        f"{workdir} holds a run with another config ({workdir_lib.path(workdir, workdir_lib.CONFIG_FILE)}): "
        f"{'; '.join(conflicts)}. These change what is trained; resume with the saved values, or start a "
        f"new --workdir (loader, logging, evaluation, dtype/remat and num_train_steps may change)")


def inherit_spatial_crop(config) -> None:
  """A flowing stage on top of a single-frame run keeps that run's crop.

  Its pooling trains on whole frames (``input.crop`` "frame"), but whole-frame
  inference runs the single-frame part, so it should find the person in as
  many passes as the run it was built on (``Predictor.default_passes``). With
  ``input.spatial_crop`` "" (configs/flow.py) and an ``init_from``, the crop is
  read from ``init_from``'s config.json, and for a crop-trained run its
  ``input.joints_margin`` too (the box rule of ``Predictor.person_boxes``).
  Configs without the key, or with it set, are left as they are.
  """
  inputs = config.input
  if "spatial_crop" not in inputs or inputs.spatial_crop or not config.get("init_from"):
    return
  spatial = workdir_lib.load_config(config.init_from).input
  inputs.spatial_crop = spatial.get("crop", "frame")
  if inputs.spatial_crop != "frame":
    inputs.joints_margin = spatial.get("joints_margin", inputs.joints_margin)


def default_flow_cache(config) -> None:
  """Computed (OpenCV) flow is cached beside the data unless a cache_dir is set,
  so it is computed once, never per epoch (the cache key includes the flow config)."""
  flow = config.get("flow")
  if flow is not None and flow.get("source", "gt") != "gt" and not flow.get("cache_dir"):
    flow.cache_dir = os.path.join(resolve_data_dir(config.dataset.data_dir), "flow_cache")


def _timelapse_image(images: np.ndarray, hm: np.ndarray) -> np.ndarray:
  from flowpose_jax import visualize  # pylint: disable=import-outside-toplevel
  tiles = [visualize.heatmap_overlay(img, h) for img, h in zip(images, hm)]
  return visualize.montage(tiles, cols=len(tiles))


@dataclasses.dataclass
class _Run:
  """Everything a run holds between steps."""
  config: Any
  workdir: str
  mesh: Any
  graphdef: Any
  tx: Any
  state: state_lib.TrainState
  train_it: Any
  eval_source: Any
  checkpointer: ckpt_lib.Checkpointer | None = None
  writer: MetricWriter | None = None
  predict: Any = None  # over this process's devices: takes ``parallel.host_local`` params
  eval_maps: Any = None  # precomputed per-frame maps of eval_source (config.flow.maps)
  timelapse: dict | None = None
  meta: dict = dataclasses.field(default_factory=dict)
  lock: lock_lib.WorkdirLock | None = None

  def close(self) -> None:
    if self.checkpointer is not None:
      self.checkpointer.close()
    if self.writer is not None:
      self.writer.close()
    if hasattr(self.train_it, "close"):
      self.train_it.close()  # stops grain worker processes, if any
    if self.lock is not None:
      self.lock.release()


def _prepare(config, workdir: str, train_source, eval_source, mesh) -> _Run:
  """Validates and builds everything a run needs, then writes ``config.json``.

  Every check that can fail (config values, datasets, the model, init_from,
  a resumed workdir's config) runs before the first file is written.
  """
  validate_config(config)
  default_flow_cache(config)
  inherit_spatial_crop(config)
  data_dir = config.dataset.data_dir
  if train_source is None:
    train_source = load_train_source(config.dataset)
  if eval_source is None and config.dataset.eval_split:
    eval_source = load_source(config.dataset.name, config.dataset.eval_split, data_dir)
  graphdef, params = workdir_lib.make_model(config)
  if config.get("init_from"):
    params = state_lib.load_pretrained(params, config.init_from)
  tx = state_lib.make_optimizer(config.optimizer, config.num_train_steps,
                                freeze=tuple(config.model.get("freeze", ())))
  train_maps = eval_maps = None
  if model_inputs(config.model, config.get("flow")) != model_inputs(config.model):
    # The frozen HeatmapNet's maps, once per record (validate_config checked it is frozen): the
    # same on every host and after a resume, since its params never change.
    train_maps = precompute_maps(graphdef, params, train_source, config, desc="train frame maps")
    if eval_source is not None:
      eval_maps = precompute_maps(graphdef, params, eval_source, config, desc="val frame maps")
  train_it = pipeline.make_train_iterator(train_source, config, maps=train_maps)
  _check_resume_config(workdir, config)
  workdir_lib.ensure(workdir)  # (a workdir that is a file is refused here, in one line)
  lock = _lock_workdir(workdir)
  try:
    if jax.process_index() == 0:
      workdir_lib.write_config(workdir, config)
  except BaseException:
    if lock is not None:
      lock.release()
    raise
  n_params = sum(x.size for x in jax.tree.leaves(params))
  meta = {"config": json.loads(config.to_json_best_effort()), "num_params": int(n_params),
          "num_devices": jax.device_count()}
  return _Run(config=config, workdir=workdir, mesh=mesh or parallel.make_mesh(), graphdef=graphdef,
              tx=tx, state=state_lib.init_state(params, tx), train_it=train_it,
              eval_source=eval_source, eval_maps=eval_maps, meta=meta, lock=lock)


def _lock_workdir(workdir: str) -> lock_lib.WorkdirLock | None:
  """Process 0 takes the workdir's lock for the job; every process raises ``WorkdirBusy`` if it is held."""
  lock, busy = None, ""
  if jax.process_index() == 0:
    lock = lock_lib.WorkdirLock(workdir)
    try:
      lock.acquire()
    except lock_lib.WorkdirBusy as e:
      lock, busy = None, str(e)
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
    if not int(multihost_utils.broadcast_one_to_all(np.int32(0 if busy else 1))):
      raise lock_lib.WorkdirBusy(busy or f"{workdir} is being trained by another job (process 0 found its lock)")
  if busy:
    raise lock_lib.WorkdirBusy(busy)
  return lock


def _resume(run: _Run, restart: bool = False) -> int:
  """Restores the latest intact checkpoint into ``run`` (state and data position); returns its step.

  ``restart``: set every checkpoint aside instead (``checkpoints_set_aside/<step>-restart-...``) and
  start from step 0: the user's choice when none is intact."""
  run.checkpointer = ckpt_lib.Checkpointer(run.workdir, run.config.keep_checkpoints)
  # Replicated first, so a checkpoint restores straight into the (multi-host) mesh's shardings.
  run.state = parallel.replicate(run.mesh, run.state)
  start = 0
  if restart and run.checkpointer.all_steps():
    log.warning("--restart: starting from step 0")
    run.checkpointer.set_aside(run.checkpointer.all_steps(), "restart")
  if run.checkpointer.all_steps():
    run.state, _, start = run.checkpointer.restore(run.state, run.train_it)
    log.info("resumed from %s step %d", run.checkpointer.directory, start)
  return int(start)


def _start_outputs(run: _Run, start: int) -> None:
  """Metric writer (rows after ``start`` dropped), predict function and the fixed timelapse batch."""
  config = run.config
  run.writer = MetricWriter(run.workdir, resume_step=start)
  inputs = model_inputs(config.model, config.get("flow"))
  run.predict = parallel.make_predict_fn(parallel.make_mesh(jax.local_devices()),
                                         forward_fn(run.graphdef, inputs=inputs), inputs)
  if run.eval_source is not None and config.timelapse_frames > 0:
    run.timelapse = next(iter(pipeline.make_eval_batches(run.eval_source, config,
                                                         batch_size=config.timelapse_frames,
                                                         max_examples=config.timelapse_frames,
                                                         maps=run.eval_maps)))


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


class NonFiniteMetrics(Exception):
  """A window's metrics hold NaN/Inf; ``first_step`` is the first step whose metrics do."""

  def __init__(self, first_step: int, values: dict[str, float], window: tuple[int, int]):
    self.first_step, self.values, self.window = first_step, values, window
    super().__init__(f"non-finite training metrics {values} first at step {first_step}")


class MetricWindow:
  """Step metrics between two log points: kept on device, summed on the host at ``flush``."""

  def __init__(self, first_step: int):
    self.first_step = first_step
    self.pending: list[dict] = []
    self.images = 0
    self.t0 = time.perf_counter()

  def add(self, metrics: dict, images: int) -> None:
    self.pending.append(metrics)
    self.images += images

  def flush(self, done: int) -> dict[str, float]:
    """Means of the window's metrics plus images/s.

    Raises ``NonFiniteMetrics`` naming the first step (``done`` numbering)
    with a NaN/Inf metric: the params before that step's update were
    already bad.
    """
    sums: dict[str, float] = {"steps": float(len(self.pending))}
    first_bad = None
    for i, m in enumerate(jax.device_get(self.pending)):
      for k, v in m.items():
        sums[k] = sums.get(k, 0.0) + float(v)
        if first_bad is None and not np.isfinite(float(v)):
          first_bad = self.first_step + 1 + i
    summary = _summarise(sums)
    if first_bad is not None:
      raise NonFiniteMetrics(first_bad, {k: v for k, v in summary.items() if not np.isfinite(v)},
                             (self.first_step + 1, done))
    summary["images_per_s"] = self.images / max(time.perf_counter() - self.t0, 1e-9)
    self.__init__(done)
    return summary


def _diverged(run: _Run, err: NonFiniteMetrics) -> TrainingDivergedError:
  """Sets aside the checkpoints that hold diverged params; the error naming the last good one.

  The metrics of step s are computed on the params saved as step s - 1, so
  when step s is the first non-finite one, checkpoints from step s - 1 on
  hold diverged params.
  """
  bad = [s for s in run.checkpointer.all_steps() if s >= err.first_step - 1]
  aside = run.checkpointer.set_aside(bad, "diverged") if bad else None
  good = run.checkpointer.all_steps()
  where = (f"the last good checkpoint is step {good[-1]} in {run.checkpointer.directory}" if good
           else "no good checkpoint was saved yet")
  moved = f"; checkpoints {bad} held diverged params and were moved to {aside}" if bad else ""
  opt = run.config.optimizer
  clip = (f"lower config.optimizer.grad_clip (now {opt.grad_clip:g})" if opt.grad_clip
          else "set config.optimizer.grad_clip=1.0 (now off)")
  return TrainingDivergedError(
      f"non-finite training metrics {err.values} first at step {err.first_step} (of steps "
      f"{err.window[0]}-{err.window[1]}); {where}{moved}. Lower config.optimizer.learning_rate (now "
      f"{opt.learning_rate:g}), {clip} or raise config.optimizer.warmup_steps (now {opt.warmup_steps}), "
      f"then rerun the same command (training resumes from the last good checkpoint)")


def _save(run: _Run, done: int) -> None:
  run.checkpointer.save(done, run.state, run.train_it, meta=dict(run.meta, step=done))
  run.writer.flush()


def _after_step(run: _Run, done: int, is_last: bool) -> None:
  """Checkpoint, timelapse and validation due after step ``done``."""
  config = run.config
  if done % config.checkpoint_every == 0 or is_last:
    _save(run, done)
  due_timelapse = run.timelapse is not None and (done % config.timelapse_every == 0 or is_last)
  due_eval = run.eval_source is not None and config.eval_every and (done % config.eval_every == 0 or is_last)
  params = parallel.host_local(run.state.params) if due_timelapse or due_eval else None
  if due_timelapse:
    tiles = _timelapse_image(run.timelapse["image"], run.predict(params, run.timelapse))
    run.writer.image(done, "timelapse/val_heatmaps", tiles)
    if jax.process_index() == 0:
      from flowpose_jax import media  # pylint: disable=import-outside-toplevel
      media.write_image(os.fspath(workdir_lib.path(run.workdir, "timelapse", f"step_{done:07d}.png")), tiles)
  if due_eval:
    result, protocol = run_eval(run.predict, params, run.eval_source, config, desc="val", maps=run.eval_maps)
    run.writer.scalars(done, {f"val/acc_{protocol.headline:g}{'%' if protocol.normalised else 'px'}/{k}": v
                              for k, v in accuracy_at(result, protocol.headline).items()})
    run.writer.flush()


def train_and_evaluate(config, workdir: str, *, train_source=None, eval_source=None,
                       mesh=None, show_progress: bool = True, until_step: int | None = None,
                       restart: bool = False) -> state_lib.TrainState:
  """Trains ``config`` in ``workdir``, resuming from its latest intact checkpoint.

  Args:
    config: ConfigDict (see configs/common.py).
    workdir: output folder (checkpoints, config.json, metrics, TensorBoard).
    train_source / eval_source: random-access record sequences; default: the
      TFDS splits named by ``config.dataset``.
    mesh: device mesh (default: all devices on a "data" axis).
    until_step: stop (with a checkpoint) after this step, as a preempted job
      would; the schedule still spans ``config.num_train_steps``.
    restart: set the workdir's checkpoints aside and start from step 0
      (``flowpose train --restart``: when none is intact).

  Returns:
    The final TrainState (replicated).
  """
  workdir_lib.quiet_closed_loop_callbacks()  # a failed checkpoint write (full disk) leaves them too
  with preemption.StopSignals() as stop:
    run = _prepare(config, workdir, train_source, eval_source, mesh)
    try:
      return _train(run, stop, until_step, show_progress, restart)
    finally:
      run.close()


def _train(run: _Run, stop: preemption.StopSignals, until_step: int | None, show_progress: bool,
           restart: bool = False) -> state_lib.TrainState:
  """The step loop of ``train_and_evaluate``."""
  config = run.config
  start = _resume(run, restart)
  _start_outputs(run, start)
  inputs = model_inputs(config.model, config.get("flow")) + step_lib.TARGET_KEYS
  train_step = step_lib.jit_train_step(run.mesh, graphdef=run.graphdef, tx=run.tx, loss_cfg=config.loss,
                                       accum=config.grad_accum_steps)
  log.info("model %s: %.2f M params; %d devices in %d processes; global batch %d; steps %d -> %d",
           config.model.name, run.meta["num_params"] / 1e6, jax.device_count(), jax.process_count(),
           config.batch_size, start, config.num_train_steps)
  end = config.num_train_steps if until_step is None else min(until_step, config.num_train_steps)
  window = MetricWindow(start)
  bar = tqdm(range(start, end), initial=start, total=config.num_train_steps, desc="train", unit="step",
             disable=not show_progress or jax.process_index() != 0)
  for step in bar:
    batch = parallel.to_global_batch(run.mesh, next(run.train_it), inputs)
    if step == start:
      bar.set_postfix_str("compiling the train step...")
    run.state, metrics = train_step(run.state, batch)
    window.add(metrics, config.batch_size)
    done = step + 1
    is_last = done == end
    stopping = not is_last and stop.due(done)
    if done % config.log_every == 0 or done % config.checkpoint_every == 0 or is_last or stopping:
      try:
        summary = window.flush(done)
      except NonFiniteMetrics as e:
        raise _diverged(run, e) from None
      run.writer.scalars(done, {f"train/{k}": v for k, v in summary.items()})
      bar.set_postfix(loss=f"{summary['loss']:.4g}", img_s=f"{summary['images_per_s']:.1f}")
    if stopping:
      _save(run, done)
      raise preemption.TrainingStopped(done, stop.signal_name, run.checkpointer.directory)
    _after_step(run, done, is_last)
  return run.state


def run_eval(predict, params, source, config, *, desc: str = "eval", max_examples: int | None = None,
             maps=None):
  """Scores ``params`` on a record source of the configured dataset, with its protocol
  (``maps``: the source's precomputed per-frame maps, for ``config.flow.maps = "precomputed"``).

  Returns (``evaluator.evaluate`` result, the ``protocols.Protocol`` used).
  """
  max_examples = config.eval.max_examples if max_examples is None else max_examples
  return evaluator.evaluate_source(lambda batch: predict(params, batch), source, config,
                                   dataset=config.dataset.name, max_examples=max_examples, desc=desc,
                                   maps=maps)


__all__ = ["train_and_evaluate", "run_eval", "MetricWindow"]
