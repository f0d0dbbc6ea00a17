"""The paper's studies as resumable commands, one point per job if need be: data scaling (Fig. 7)
and pooling vs window (Fig. 8).

  flowpose study data-scaling --config configs/demo.py --out studies/scaling \\
      --sizes 250,500,1000 --seeds 3 --noisy synthetic_signers/demo_noisy:train[1000:]

Trains HeatmapNet and CoordinateNet (the paper's Fig. 7) on growing clean
training sets, then on the largest clean set plus noisily labelled extra data
(``--noisy``; BBC Pose + Extended in the paper), the HeatmapNet there with L2
and with the robust ``ROBUST_KIND`` (Huber) loss. A size-N training set is N
records of ``dataset.train_split`` drawn at random with ``subset_seed``
(``config.dataset.train_subset`` / ``train_subset_seed``, read by
``data.sources.load_train_source``): every episode contributes, and the sets
are nested (the 250 records lie inside the 500).

Beyond the paper: per network, a saturating power law ``acc(N) = a - b N^-c``
is fitted to the clean sizes' mean accuracies; with ``MIN_FIT_POINTS`` sizes
or more the study also trains twice the largest size (when the split has the
records) and reports predicted vs measured. Outputs: ``<out>/study.json``,
``study.csv`` and ``data_scaling.png``.

  flowpose study pooling --config configs/flow.py --config.init_from=workdirs/demo \\
      --out studies/pooling --windows 1,3,7,15 --poolings sum,parametric,data_dependent \\
      --flow_sources gt,dis_medium --seeds 3

trains the flowing stage for every (flow source, pooling, n) on top of one
single-frame run (``flowpose study pooling`` gives it that run's data and
network shape first: ``inherit_stage1``) and draws accuracy vs n per pooling
(``pooling_vs_n.png``), with the single-frame run's own scores as the
baselines; ``pooling.md`` and ``pooling_curves.png`` compare the baselines and
each pooling at its largest n over every distance, and every parametric run
draws its learned weights (``<out>/<run>/pooling_weights.png``).

Points. Each setting (a model and size, or a pooling, n and flow source) is
trained once per seed, ``config.seed + 0 .. K-1``; a point is one (setting,
seed) run in ``<out>/<setting>-seed<S>/``. ``Study.points`` lists them in a
fixed order, so ``run_study(study, i)`` trains point i alone (a Slurm array
task, or one pod job per point) and then assembles the tables and figure from
the points finished so far. A point whose ``point.json`` exists is not trained
again. Tables and figures give each setting's mean over its finished seeds and
``SPREAD``, the sample standard deviation (blank with one seed).
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import functools
import json
import logging
import os
import warnings
from collections.abc import Callable, Sequence

import ml_collections
import numpy as np

from flowpose_jax import fileio
from flowpose_jax.data.sources import load_source
from flowpose_jax.errors import ConfigError, FlowposeError
from flowpose_jax.evaluate.pck import accuracy_at

log = logging.getLogger("flowpose")

MODELS = ("heatmap_net", "coordinate_net")
TYPES = ("wrists", "elbows")  # the joint types of the paper's figure
POOLING_TYPES = ("wrists", "elbows", "shoulders", "head", "average")  # pooling.csv's columns
# The robust loss of the noisy HeatmapNet point (losses.LOSSES). Not "tukey": from scratch every
# target peak has residual 1 > c, so Tukey gives the peaks no gradient and the net learns empty maps
# (measured: 0 % at d = 6 on synthetic_signers/demo, README); Huber keeps a constant pull there.
ROBUST_KIND = "huber"
POINT_FILE = "point.json"
MIN_FIT_POINTS = 3  # a three-parameter power law needs at least three sizes
DEFAULT_SUBSET_SEED = 0  # which records make up each size-N training set (--subset_seed)
# The spread over seeds in the tables and error bars: the sample standard deviation (ddof=1).
SPREAD = "std"
SPREAD_NOTE = "std: sample standard deviation (ddof=1) over the seeds; null with one seed"
PERCENT = 100.0
# What the flowing stage takes from its single-frame run (``inherit_stage1``).
STAGE1_SECTIONS = ("dataset", "input")
STAGE1_MODEL_KEYS = ("width", "fusion", "final_relu")
BASELINES = (("heatmap", "single-frame (conv8)"), ("fusion", "single-frame + fusion"))
BASELINES_FILE = "baselines.json"
WEIGHTS_FILE = "pooling_weights.png"


def run_name(setting: str, seed: int) -> str:
  """A point's folder under the study's ``--out``: its setting and seed, "heatmap_net-n250-seed1"."""
  return f"{setting}-seed{seed}"


class _Run:
  """What both kinds of point share: the folder name and the extra record fields."""

  @property
  def name(self) -> str:
    return run_name(self.setting, self.seed)

  def extras(self, workdir: str) -> dict:  # pylint: disable=unused-argument
    """Fields the point's record keeps beside its scores (read from the trained ``workdir``)."""
    return {}


@dataclasses.dataclass(frozen=True)
class Point(_Run):
  """One training run of the data-scaling study.

  setting: the runs that differ only in ``seed`` share it ("heatmap_net-n250").
  model: ``config.model.name``.
  frames: clean training records (the noisy extra not counted).
  noisy: the extra training data "NAME:SPLIT", or "".
  loss: ``config.loss.kind``.
  role: "clean" | "noisy" | "predicted" (the power law's next size).
  seed: ``config.seed``.
  subset_seed: draws the ``frames`` records (``config.dataset.train_subset_seed``).
  """
  setting: str
  model: str
  frames: int
  noisy: str = ""
  loss: str = "l2"
  role: str = "clean"
  seed: int = 0
  subset_seed: int = DEFAULT_SUBSET_SEED

  def configure(self, config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    return point_config(config, self)


def model_config(config: ml_collections.ConfigDict, model: str) -> ml_collections.ConfigDict:
  """A copy of ``config`` training ``model`` (CoordinateNet keeps only the keys it takes)."""
  c = ml_collections.ConfigDict(config.to_dict())
  if model == "coordinate_net":
    c.model = ml_collections.ConfigDict({k: config.model[k] for k in ("width", "dtype", "remat")
                                         if k in config.model})
  elif model != "heatmap_net":
    raise ConfigError(f"study model {model!r}: use one of {list(MODELS)}")
  c.model.name = model
  return c


def point_config(config: ml_collections.ConfigDict, point: Point) -> ml_collections.ConfigDict:
  """``config`` for one point: model, seed, ``frames`` random training records, extra data, loss."""
  c = model_config(config, point.model)
  c.seed = point.seed
  c.dataset.train_subset = point.frames
  c.dataset.train_subset_seed = point.subset_seed
  c.dataset.extra_train = point.noisy
  c.loss.kind = point.loss
  return c


def study_seeds(config: ml_collections.ConfigDict, count: int) -> list[int]:
  """``count`` training seeds: ``config.seed``, ``config.seed + 1``, ..."""
  if count < 1:
    raise ConfigError(f"--seeds {count}: give the number of trainings per setting, 1 or more")
  return [int(config.seed) + k for k in range(count)]


def with_seeds(points: Sequence[_Run], seeds: Sequence[int]) -> list:
  """Every point once per seed (seeds innermost: a setting's runs are neighbours)."""
  return [dataclasses.replace(p, seed=int(s)) for p in points for s in seeds]


def data_scaling_points(sizes: list[int], models: tuple[str, ...] = MODELS, noisy: str = "", *,
                        seeds: Sequence[int] = (0,), subset_seed: int = DEFAULT_SUBSET_SEED,
                        predict_size: int = 0) -> list[Point]:
  """The clean points (every model x size), with ``noisy`` the clean + noisy ones, with
  ``predict_size`` the power law's next size per model; each once per seed."""
  sizes = sorted(int(s) for s in sizes)
  if not sizes or sizes[0] < 1:
    raise ConfigError(f"--sizes {sizes}: give positive numbers of training records, e.g. 250,500,1000")
  point = functools.partial(Point, subset_seed=subset_seed)
  points = [point(f"{m}-n{n}", m, n) for m in models for n in sizes]
  if noisy:
    for m in models:
      points.append(point(f"{m}-n{sizes[-1]}-noisy-l2", m, sizes[-1], noisy=noisy, role="noisy"))
    if "heatmap_net" in models:
      points.append(point(f"heatmap_net-n{sizes[-1]}-noisy-{ROBUST_KIND}", "heatmap_net", sizes[-1],
                          noisy=noisy, loss=ROBUST_KIND, role="noisy"))
  if predict_size:
    points += [point(f"{m}-n{predict_size}", m, predict_size, role="predicted") for m in models]
  return with_seeds(points, seeds)


def power_law(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
  """Saturating power law ``a - b * n**-c`` (accuracy vs training records)."""
  return a - b * np.power(np.asarray(n, np.float64), -c)


def fit_power_law(frames, accuracy) -> dict | None:
  """Least-squares ``power_law`` fit; None with fewer than ``MIN_FIT_POINTS`` finite points.

  Returns {"a", "b", "c"} with the asymptote a in [0, 1], b > 0, 0 < c <= 3.
  """
  from scipy.optimize import OptimizeWarning, curve_fit  # pylint: disable=import-outside-toplevel
  n = np.asarray(frames, np.float64)
  y = np.asarray(accuracy, np.float64)
  ok = np.isfinite(y)
  if ok.sum() < MIN_FIT_POINTS:
    return None
  n, y = n[ok], y[ok]
  guess = (min(1.0, y.max() + 0.05), max(1e-3, (y.max() + 0.05 - y.min()) * n.min() ** 0.5), 0.5)
  try:
    with warnings.catch_warnings():  # three sizes fit exactly: no covariance, which is not used
      warnings.simplefilter("ignore", OptimizeWarning)
      (a, b, c), _ = curve_fit(power_law, n, y, p0=guess, bounds=([0.0, 0.0, 1e-3], [1.0, np.inf, 3.0]),
                               maxfev=20000)
  except RuntimeError:  # no convergence
    return None
  return {"a": float(a), "b": float(b), "c": float(c)}


# ----------------------------------------------------------------- running points


@dataclasses.dataclass(frozen=True)
class Study:
  """A study's points and how to tabulate them.

  config: the base config every point's ``configure`` derives from.
  out_dir: one workdir per point, and the study's tables and figures.
  points: every (setting, seed) run, in the order ``run_study``'s ``point`` indexes.
  assemble: (finished records in point order, total points) -> summary; writes the outputs.
  prepare: run by every process after training, before process 0 assembles (None: nothing).
  """
  config: ml_collections.ConfigDict
  out_dir: str
  points: tuple
  assemble: Callable[[list[dict], int], dict]
  prepare: Callable[[], object] | None = None


def _is_main_process() -> bool:
  import jax  # pylint: disable=import-outside-toplevel
  return jax.process_index() == 0


def _configured(config, point) -> ml_collections.ConfigDict:
  from flowpose_jax.train.loop import default_flow_cache  # pylint: disable=import-outside-toplevel
  c = point.configure(config)
  default_flow_cache(c)  # as training sets it: a rerun compares the config the point was trained with
  return c


def _finished_record(config, point, out_dir: str) -> dict | None:
  """The record in ``<out_dir>/<point>/point.json``; None before the point is finished."""
  done = os.path.join(out_dir, point.name, POINT_FILE)
  if not os.path.exists(done):
    return None
  with open(done, encoding="utf-8") as f:
    record = json.load(f)
  if record["config"] != json.loads(_configured(config, point).to_json_best_effort()):
    raise FlowposeError(f"{done} was trained with another config; use another --out, or delete "
                        f"{os.path.dirname(done)} to train this point again")
  return record


def _score(workdir: str, config) -> dict:
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  from flowpose_jax.evaluate import protocols  # pylint: disable=import-outside-toplevel
  result, _ = jobs.evaluate_workdir(workdir, split=config.dataset.test_split)
  d = protocols.for_dataset(config.dataset.name, config.eval.threshold).headline
  return {"d": d, "accuracy": accuracy_at(result, d)}


def run_point(config, point, out_dir: str) -> dict:
  """Trains and scores one point (``Point`` or ``PoolingPoint``: its ``configure(config)`` gives
  the run's config), unless its ``point.json`` exists; returns its record.

  Every process of a multi-process run trains and scores; process 0 writes ``point.json``.
  """
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  record = _finished_record(config, point, out_dir)
  if record is not None:
    log.info("study: %s already done, skipped", point.name)
    return record
  workdir = os.path.join(out_dir, point.name)
  c = _configured(config, point)
  configured = json.loads(c.to_json_best_effort())  # before training fills in fields (input.spatial_crop)
  log.info("study: training %s", point)
  jobs.train(c, workdir)
  record = {"point": {**dataclasses.asdict(point), "name": point.name}, "config": configured,
            **_score(workdir, c), **point.extras(workdir)}
  if _is_main_process():
    fileio.write_text(os.path.join(workdir, POINT_FILE), json.dumps(record, indent=1))
  return record


def list_points(study: Study) -> list[dict]:
  """[{"index", "name", "seed", "done"}] for every point, in ``run_study`` order."""
  return [{"index": i, "name": p.name, "seed": p.seed,
           "done": os.path.exists(os.path.join(study.out_dir, p.name, POINT_FILE))}
          for i, p in enumerate(study.points)]


def finished_records(study: Study) -> list[dict]:
  """The records of the finished points, in point order."""
  records = (_finished_record(study.config, p, study.out_dir) for p in study.points)
  return [r for r in records if r is not None]


def assemble(study: Study) -> dict:
  """Writes the tables and figures from the points finished so far, and again while others
  finish meanwhile (array tasks), so the last point to finish leaves the complete tables."""
  while True:
    records = finished_records(study)
    if not records:
      raise FlowposeError(f"no finished point in {study.out_dir}: train one first "
                          f"(--point I, or no --point for all)")
    summary = study.assemble(records, len(study.points))
    if sum(p["done"] for p in list_points(study)) == len(records):
      log.info("study: assembled %d of %d points in %s", len(records), len(study.points), study.out_dir)
      return summary


def run_study(study: Study, point: int | None = None) -> dict | None:
  """Trains point ``point`` (0-based index into ``study.points``), or every unfinished point,
  then assembles the tables from the finished ones (``assemble``).

  Returns:
    ``study.assemble``'s summary, with "finished" and "total" points; None on
    processes other than 0 of a multi-process run (process 0 writes).
  """
  n = len(study.points)
  if point is not None and not 0 <= point < n:
    raise ConfigError(f"--point {point}: this study has {n} points, 0..{n - 1} (--list_points names them)")
  os.makedirs(study.out_dir, exist_ok=True)
  for p in study.points if point is None else study.points[point:point + 1]:
    run_point(study.config, p, study.out_dir)
  if study.prepare is not None:
    study.prepare()
  return assemble(study) if _is_main_process() else None


# ----------------------------------------------------------------- tables


def aggregate(records: list[dict]) -> list[dict]:
  """The runs of each setting (the points differing only in seed), in first-seen order.

  Returns:
    one row per setting: {"point": the setting's fields, "name" the setting,
    "seeds" its finished seeds; "runs": how many; "d"; "accuracy": {joint or
    type: mean over the runs}; SPREAD (``std``): {...: sample standard
    deviation, None with one run}; "min", "max": {...}}.
  """
  groups: dict[str, list[dict]] = {}
  for r in records:
    groups.setdefault(r["point"]["setting"], []).append(r)
  rows = []
  for setting, runs in groups.items():
    point = {k: v for k, v in runs[0]["point"].items() if k not in ("name", "seed", "setting")}
    acc = {t: np.array([r["accuracy"][t] for r in runs], np.float64) for t in runs[0]["accuracy"]}
    rows.append({"point": dict(point, name=setting, seeds=[r["point"]["seed"] for r in runs]),
                 "runs": len(runs), "d": runs[0]["d"],
                 "accuracy": {t: float(a.mean()) for t, a in acc.items()},
                 SPREAD: {t: float(a.std(ddof=1)) if len(a) > 1 else None for t, a in acc.items()},
                 "min": {t: float(a.min()) for t, a in acc.items()},
                 "max": {t: float(a.max()) for t, a in acc.items()}})
  return rows


def _write_csv(path: str, head: list[str], rows: list[tuple[list, dict, dict | None]], types) -> None:
  """One line per (leading cells, mean accuracies, spreads or None): each type's mean and
  ``SPREAD`` in % (the spread blank with one run)."""
  with fileio.atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow([*head, *(c for t in types for c in (t, f"{t}_{SPREAD}"))])
    for lead, acc, spread in rows:
      cells = []
      for t in types:
        s = (spread or {}).get(t)
        cells += [f"{PERCENT * acc[t]:.2f}", "" if s is None else f"{PERCENT * s:.2f}"]
      w.writerow([*lead, *cells])


def _seeds_cell(row: dict) -> str:
  return " ".join(str(s) for s in row["point"]["seeds"])


def _fits(rows: list[dict], models) -> dict:
  """Power laws over the clean settings' mean accuracies, per "<model>/<type>"."""
  fits = {}
  for m in models:
    for t in (*TYPES, "average"):
      points = [(r["point"]["frames"], r["accuracy"][t]) for r in rows
                if r["point"]["model"] == m and r["point"]["role"] == "clean"]
      fit = fit_power_law(*zip(*points)) if points else None
      if fit is not None:
        fits[f"{m}/{t}"] = fit
  return fits


def write_outputs(summary: dict, out_dir: str, title: str) -> None:
  """``study.json`` (the summary), ``study.csv`` (one row per setting: mean and ``SPREAD`` over
  its seeds) and ``data_scaling.png`` (means with error bars)."""
  rows = summary["points"]
  fileio.write_text(os.path.join(out_dir, "study.json"), json.dumps(summary, indent=1))
  types = (*TYPES, "average")
  head = ["point", "model", "frames", "noisy", "loss", "role", "subset_seed", "seeds", "runs", "d"]
  _write_csv(os.path.join(out_dir, "study.csv"), head,
             [([p["name"], p["model"], p["frames"], p["noisy"], p["loss"], p["role"], p["subset_seed"],
                _seeds_cell(r), r["runs"], r["d"]], r["accuracy"], r[SPREAD])
              for r in rows for p in [r["point"]]], types)
  from flowpose_jax.evaluate import plots  # pylint: disable=import-outside-toplevel
  plots.plot_data_scaling(rows, summary["fits"], os.path.join(out_dir, "data_scaling.png"), types,
                          title=title)


def _data_scaling_summary(records: list[dict], total: int, *, out_dir: str, dataset: str, models,
                          seeds: list[int], subset_seed: int) -> dict:
  """``Study.assemble`` of the data-scaling study: fits on the per-size means, the prediction."""
  rows = aggregate(records)
  fits = _fits(rows, models)
  prediction = {}
  for r in rows:
    fit = fits.get(f"{r['point']['model']}/average")
    if r["point"]["role"] == "predicted" and fit is not None:
      frames = r["point"]["frames"]
      prediction[r["point"]["model"]] = {
          "frames": frames, "predicted": float(power_law(frames, **fit)),
          "measured": r["accuracy"]["average"], f"measured_{SPREAD}": r[SPREAD]["average"], "runs": r["runs"]}
  summary = {"spread": SPREAD_NOTE, "subset_seed": subset_seed, "seeds": seeds, "finished": len(records),
             "total": total, "points": rows, "fits": fits, "prediction": prediction, "runs": records}
  write_outputs(summary, out_dir, f"{dataset}: accuracy at d = {records[0]['d']:g} vs training records "
                                  f"({len(records)} of {total} runs)")
  return summary


def _train_records(config) -> int:
  """Records in ``config.dataset.train_split`` (a missing synthetic set is built, as training would)."""
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  jobs.ensure_dataset(config.dataset.name, config.dataset.data_dir)
  return len(load_source(config.dataset.name, config.dataset.train_split, config.dataset.data_dir))


def data_scaling_plan(config, out_dir: str, sizes: list[int], *, models: tuple[str, ...] = MODELS,
                      noisy: str = "", predict_next: bool = True, seeds: int = 1,
                      subset_seed: int = DEFAULT_SUBSET_SEED) -> Study:
  """The data-scaling study's points; ``run_study`` runs them.

  Args:
    config: the base training config (its dataset, input, budget; ``seed`` the first seed).
    out_dir: the study folder (one workdir per point).
    sizes: clean training set sizes, in records of ``dataset.train_split``.
    models: networks to compare (``MODELS``).
    noisy: "NAME:SPLIT" of noisily labelled extra training data, or "".
    predict_next: with ``MIN_FIT_POINTS`` sizes or more, also train the next
      size (2x the largest) when the split holds that many records.
    seeds: trainings per setting (``study_seeds``).
    subset_seed: draws each size's records (nested: a smaller set lies inside a larger).
  """
  available = _train_records(config)
  if max(sizes, default=0) > available:
    raise ConfigError(f"--sizes {','.join(map(str, sizes))}: {config.dataset.name}:"
                      f"{config.dataset.train_split} has only {available} records; give sizes up to {available}, "
                      f"or a larger split with --config.dataset.train_split")
  next_size = 2 * max(sizes, default=0)
  predict = predict_next and len(set(sizes)) >= MIN_FIT_POINTS and next_size <= available
  seed_list = study_seeds(config, seeds)
  points = data_scaling_points(sizes, models, noisy, seeds=seed_list, subset_seed=subset_seed,
                               predict_size=next_size if predict else 0)
  return Study(config, out_dir, tuple(points), functools.partial(
      _data_scaling_summary, out_dir=out_dir, dataset=config.dataset.name, models=models, seeds=seed_list,
      subset_seed=subset_seed))


def data_scaling(config, out_dir: str, sizes: list[int], **kwargs) -> dict:
  """Runs (or resumes) every point of ``data_scaling_plan(config, out_dir, sizes, **kwargs)``;
  returns the summary {"points" (per setting), "runs", "fits", "prediction", ...}."""
  return run_study(data_scaling_plan(config, out_dir, sizes, **kwargs))


# ----------------------------------------------------------------- pooling


@dataclasses.dataclass(frozen=True)
class PoolingPoint(_Run):
  """One flowing-stage run of the pooling study: ``pooling`` over a 2n+1 window of
  ``flow_source`` flow ("gt" or an OpenCV method, ``flow.compute.METHODS``), ``config.seed``."""
  setting: str
  pooling: str
  n: int
  flow_source: str
  seed: int = 0

  def configure(self, config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict(config.to_dict())  # references resolved: set n and num_frames together
    c.seed = self.seed
    c.model.pooling = self.pooling
    c.flow.n = self.n
    c.model.num_frames = 2 * self.n + 1
    c.flow.source = self.flow_source
    return c

  def extras(self, workdir: str) -> dict:
    """The parametric pooler's learned weights, "pooling_weights" [2n+1][J]."""
    if self.pooling != "parametric":
      return {}
    from flowpose_jax import inference  # pylint: disable=import-outside-toplevel
    return {"pooling_weights": np.asarray(inference.load(workdir).params["pool"]["kernel"]).tolist()}


def pooling_points(windows: list[int], poolings: list[str], flow_sources: list[str]) -> list[PoolingPoint]:
  """Every (flow source, pooling, n) of the temporal study (seed 0: see ``with_seeds``)."""
  return [PoolingPoint(f"{flow}-{pooling}-n{n}", pooling, int(n), flow)
          for flow in flow_sources for pooling in poolings for n in sorted(windows)]


def inherit_stage1(config: ml_collections.ConfigDict, stage1: ml_collections.ConfigDict
                   ) -> ml_collections.ConfigDict:
  """A flowing-stage ``config`` given its single-frame run's data and network shape.

  Every field of ``stage1``'s ``STAGE1_SECTIONS`` (dataset, input) and its
  ``model.{width, fusion, final_relu}`` replace ``config``'s (fields only
  ``config`` has are kept), so the stage trains and scores on the frames, crop
  and size the single-frame part was trained for. Apply overrides after this.
  """
  c = copy.deepcopy(config)  # not ConfigDict(to_dict()): that cuts derived fields (flow.n) loose
  for section in STAGE1_SECTIONS:
    for key, value in stage1[section].items():
      old = c[section].get(key)
      c[section][key] = tuple(value) if isinstance(old, tuple) and isinstance(value, list) else value
  for key in STAGE1_MODEL_KEYS:
    if key in stage1.model:
      c.model[key] = stage1.model[key]
  return c


def _baselines(config, out_dir: str, d: float) -> dict:
  """The single-frame run's own scores {label: {type: accuracy}} (``BASELINES``), cached in
  ``<out_dir>/baselines.json`` (process 0 writes it)."""
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  path = os.path.join(out_dir, BASELINES_FILE)
  key = {"init_from": os.path.abspath(config.init_from), "split": config.dataset.test_split, "d": d}
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      cached = json.load(f)
    if {k: cached.get(k) for k in key} == key:
      return cached["baselines"]
  baselines = {}
  for output, label in BASELINES:
    result, _ = jobs.evaluate_workdir(config.init_from, split=config.dataset.test_split, output=output,
                                      out_dir=os.path.join(out_dir, f"baseline_{output}"))
    baselines[label] = accuracy_at(result, d)
  if _is_main_process():
    fileio.write_text(path, json.dumps({**key, "baselines": baselines}, indent=1))
  return baselines


def _mean_curves(folders: list[str], split: str) -> dict:
  """The mean over runs of their ``results_<split>.json`` curves, as a ``PCKAccumulator.result()``
  (thresholds [D], joint_names, per_joint [D, J], per_type {type: [D]}, average [D])."""
  methods = []
  for folder in folders:
    with open(os.path.join(folder, f"results_{split}.json"), encoding="utf-8") as f:
      methods.append(next(iter(json.load(f)["methods"].values())))

  def mean(get) -> np.ndarray:  # null (nothing counted) -> NaN
    return np.mean([np.asarray(get(m), np.float64) for m in methods], axis=0)

  first = methods[0]
  return {"thresholds": np.asarray(first["thresholds"], np.float64), "joint_names": tuple(first["joint_names"]),
          "per_joint": mean(lambda m: m["per_joint"]), "average": mean(lambda m: m["average"]),
          "per_type": {t: mean(lambda m, t=t: m["per_type"][t]) for t in first["per_type"]}}


def _compare_at_largest_n(config, rows: list[dict], out_dir: str, d: float) -> None:
  """``pooling.md`` and ``pooling_curves.png``: the baselines and each (flow source, pooling)
  at its largest finished n, over every distance (means over seeds)."""
  from flowpose_jax.evaluate import plots  # pylint: disable=import-outside-toplevel
  split = config.dataset.test_split
  curves = {label: _mean_curves([os.path.join(out_dir, f"baseline_{output}")], split)
            for output, label in BASELINES}
  largest = {}
  for r in rows:
    key = (r["point"]["flow_source"], r["point"]["pooling"])
    if key not in largest or r["point"]["n"] > largest[key]["point"]["n"]:
      largest[key] = r
  for (flow_source, pooling), r in sorted(largest.items()):
    folders = [os.path.join(out_dir, run_name(r["point"]["name"], s)) for s in r["point"]["seeds"]]
    curves[f"{pooling} ({flow_source}), n = {r['point']['n']}"] = _mean_curves(folders, split)
  fileio.write_text(os.path.join(out_dir, "pooling.md"),
                    f"# {config.dataset.name} {split}, mean over seeds\n\n{plots.format_table(curves, d)}\n")
  plots.plot_accuracy_curves(curves, os.path.join(out_dir, "pooling_curves.png"), threshold=d,
                             title=f"{config.dataset.name} {split}: single-frame vs flowing")


def _pooling_summary(records: list[dict], total: int, *, config, out_dir: str, d: float,
                     seeds: list[int]) -> dict:
  """``Study.assemble`` of the pooling study: ``pooling.json``, ``.csv``, ``.md``, the figures."""
  from flowpose_jax.evaluate import plots  # pylint: disable=import-outside-toplevel
  baselines = _baselines(config, out_dir, d)
  rows = aggregate(records)
  summary = {"d": d, "spread": SPREAD_NOTE, "seeds": seeds, "finished": len(records), "total": total,
             "baselines": baselines, "points": rows, "runs": records}
  fileio.write_text(os.path.join(out_dir, "pooling.json"), json.dumps(summary, indent=1))
  _write_csv(os.path.join(out_dir, "pooling.csv"), ["run", "flow_source", "pooling", "n", "seeds", "runs"],
             [([label, "", "", 0, "", 1], acc, None) for label, acc in baselines.items()]
             + [([p["name"], p["flow_source"], p["pooling"], p["n"], _seeds_cell(r), r["runs"]],
                 r["accuracy"], r[SPREAD]) for r in rows for p in [r["point"]]], POOLING_TYPES)
  plots.plot_pooling_vs_n(summary, os.path.join(out_dir, "pooling_vs_n.png"), ("wrists", "elbows"),
                          title=f"{config.dataset.name}: accuracy at d = {d:g} vs window n "
                                f"({len(records)} of {total} runs)")
  for r in records:
    path = os.path.join(out_dir, r["point"]["name"], WEIGHTS_FILE)
    if "pooling_weights" in r and not os.path.exists(path):
      plots.plot_pooling_weights(np.asarray(r["pooling_weights"]), path,
                                 title=f"{r['point']['name']}: learned pooling weights")
  _compare_at_largest_n(config, rows, out_dir, d)
  return summary


def pooling_plan(config, out_dir: str, windows: list[int], poolings: list[str], flow_sources: list[str],
                 *, seeds: int = 1) -> Study:
  """The paper's temporal study: accuracy vs window n per pooling and flow source.

  ``config`` is a flowing-stage config (``configs/flow.py``) whose ``init_from``
  names the trained single-frame run (see ``inherit_stage1``); that run's own
  scores (conv8, +fusion) are the baselines. ``seeds`` trainings per setting.
  ``run_study`` writes ``pooling.json``, ``pooling.csv``, ``pooling.md``,
  ``pooling_vs_n.png`` and ``pooling_curves.png`` to ``out_dir``.
  """
  from flowpose_jax.evaluate import protocols  # pylint: disable=import-outside-toplevel
  if not config.get("init_from") or config.get("flow") is None:
    raise ConfigError("the pooling study trains the flowing stage: use configs/flow.py with "
                      "--config.init_from=<single-frame workdir>")
  from flowpose_jax.flow.compute import SOURCES  # pylint: disable=import-outside-toplevel
  unknown = [s for s in flow_sources if s not in SOURCES]
  if unknown or not flow_sources:
    raise ConfigError(f"--flow_sources {','.join(flow_sources)}: {unknown or 'none given'}; "
                      f"give some of {', '.join(SOURCES)}")
  d = protocols.for_dataset(config.dataset.name, config.eval.threshold).headline
  seed_list = study_seeds(config, seeds)
  points = with_seeds(pooling_points(windows, poolings, flow_sources), seed_list)
  return Study(config, out_dir, tuple(points),
               functools.partial(_pooling_summary, config=config, out_dir=out_dir, d=d, seeds=seed_list),
               prepare=functools.partial(_baselines, config, out_dir, d))


def pooling_study(config, out_dir: str, windows: list[int], poolings: list[str], flow_sources: list[str],
                  *, seeds: int = 1) -> dict:
  """Runs (or resumes) every point of ``pooling_plan``; returns the summary."""
  return run_study(pooling_plan(config, out_dir, windows, poolings, flow_sources, seeds=seeds))


__all__ = ["Point", "PoolingPoint", "Study", "aggregate", "assemble", "data_scaling", "data_scaling_plan",
           "data_scaling_points", "finished_records", "fit_power_law", "inherit_stage1", "list_points",
           "model_config", "point_config", "pooling_plan", "pooling_points", "pooling_study", "power_law",
           "run_name", "run_point", "run_study", "study_seeds", "with_seeds"]
