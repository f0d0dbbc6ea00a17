"""The paper's studies as resumable commands: data scaling (Fig. 7) and pooling vs window (Fig. 8).

  flowpose study data-scaling --config configs/demo.py --out studies/scaling \\
      --sizes 250,500,1000 --noisy synthetic_signers/demo_noisy:train[1000:]

Trains HeatmapNet and CoordinateNet (the paper's Fig. 7) on growing clean
training sets (the first N records of ``dataset.train_split``: whole videos
when N is a multiple of the video length), then on the largest clean set plus
noisily labelled extra data (``--noisy``; BBC Pose + Extended in the paper),
the HeatmapNet there with L2 and with the robust ``ROBUST_KIND`` (Huber) loss.
One run per point, in ``<out>/<point>/``; a point whose ``point.json`` exists
is not trained again, so a half-finished study resumes where it stopped.

Beyond the paper: per network, a saturating power law ``acc(N) = a - b N^-c``
is fitted to the clean points; the study predicts the accuracy at twice the
largest clean size, trains that point too (when the split has the records),
and reports predicted vs measured. Everything lands in ``<out>/study.json``,
``study.csv`` and ``data_scaling.png``.

  flowpose study pooling --config configs/flow.py --config.init_from=workdirs/demo \
      --out studies/pooling --windows 1,3,7,15 --poolings sum,parametric,data_dependent --flows gt,dis_medium

trains the flowing stage for every (flow source, pooling, n) on top of one
single-frame run and draws accuracy vs n per pooling (``pooling_vs_n.png``),
with the single-frame run's own scores as the baselines.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os

import ml_collections
import numpy as np

from flowpose_jax import fileio
from flowpose_jax.data.sources import load_source
from flowpose_jax.errors import ConfigError, FlowposeError
from flowpose_jax.evaluate.pck import accuracy_at

log = logging.getLogger("flowpose")

MODELS = ("heatmap_net", "coordinate_net")
TYPES = ("wrists", "elbows")  # the joint types of the paper's figure
# The robust loss of the noisy HeatmapNet point (losses.LOSSES). Not "tukey": from scratch every
# target peak has residual 1 > c, so Tukey gives the peaks no gradient and the net learns empty maps
# (measured: 0 % at d = 6 on synthetic_signers/demo, README); Huber keeps a constant pull there.
ROBUST_KIND = "huber"
POINT_FILE = "point.json"
MIN_FIT_POINTS = 3  # a three-parameter power law needs at least three sizes


@dataclasses.dataclass(frozen=True)
class Point:
  """One training run of a study.

  name: its folder under the study's ``--out``.
  model: ``config.model.name``.
  frames: clean training records (the noisy extra not counted).
  noisy: the extra training data "NAME:SPLIT", or "".
  loss: ``config.loss.kind``.
  role: "clean" | "noisy" | "predicted" (the power law's next size).
  """
  name: str
  model: str
  frames: int
  noisy: str = ""
  loss: str = "l2"
  role: str = "clean"

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
  """``config`` for one point: model, the first ``frames`` training records, extra data, loss."""
  c = model_config(config, point.model)
  base_split = config.dataset.train_split.split("[")[0]
  c.dataset.train_split = f"{base_split}[:{point.frames}]"
  c.dataset.extra_train = point.noisy
  c.loss.kind = point.loss
  return c


def data_scaling_points(sizes: list[int], models: tuple[str, ...] = MODELS, noisy: str = "") -> list[Point]:
  """The clean points (every model x size) and, with ``noisy``, the clean + noisy ones."""
  sizes = sorted(int(s) for s in sizes)
  if not sizes or sizes[0] < 1:
    raise ConfigError(f"--sizes {sizes}: give positive numbers of training records, e.g. 250,500,1000")
  points = [Point(f"{m}-n{n}", m, n) for m in models for n in sizes]
  if noisy:
    for m in models:
      points.append(Point(f"{m}-n{sizes[-1]}-noisy-l2", m, sizes[-1], noisy=noisy, role="noisy"))
    if "heatmap_net" in models:
      points.append(Point(f"heatmap_net-n{sizes[-1]}-noisy-{ROBUST_KIND}", "heatmap_net", sizes[-1],
                          noisy=noisy, loss=ROBUST_KIND, role="noisy"))
  return points


def power_law(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
  """Saturating power law ``a - b * n**-c`` (accuracy vs training records)."""
  return a - b * np.power(np.asarray(n, np.float64), -c)


def fit_power_law(frames, accuracy) -> dict | None:
  """Least-squares ``power_law`` fit; None with fewer than ``MIN_FIT_POINTS`` finite points.

  Returns {"a", "b", "c"} with the asymptote a in [0, 1], b > 0, 0 < c <= 3.
  """
  from scipy.optimize import curve_fit  # pylint: disable=import-outside-toplevel
  n = np.asarray(frames, np.float64)
  y = np.asarray(accuracy, np.float64)
  ok = np.isfinite(y)
  if ok.sum() < MIN_FIT_POINTS:
    return None
  n, y = n[ok], y[ok]
  guess = (min(1.0, y.max() + 0.05), max(1e-3, (y.max() + 0.05 - y.min()) * n.min() ** 0.5), 0.5)
  try:
    (a, b, c), _ = curve_fit(power_law, n, y, p0=guess, bounds=([0.0, 0.0, 1e-3], [1.0, np.inf, 3.0]),
                             maxfev=20000)
  except RuntimeError:  # no convergence
    return None
  return {"a": float(a), "b": float(b), "c": float(c)}


def _score(workdir: str, config) -> dict:
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  from flowpose_jax.evaluate import protocols  # pylint: disable=import-outside-toplevel
  result, _ = jobs.evaluate_workdir(workdir, split=config.dataset.test_split)
  d = protocols.for_dataset(config.dataset.name, config.eval.threshold).headline
  return {"d": d, "accuracy": accuracy_at(result, d)}


def run_point(config, point, out_dir: str) -> dict:
  """Trains and scores one point (``Point`` or ``PoolingPoint``: its ``configure(config)`` gives
  the run's config), unless its ``point.json`` exists; returns its record."""
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  workdir = os.path.join(out_dir, point.name)
  done = os.path.join(workdir, POINT_FILE)
  c = point.configure(config)
  from flowpose_jax.train.loop import default_flow_cache  # pylint: disable=import-outside-toplevel
  default_flow_cache(c)  # as training sets it: a rerun compares the config the point was trained with
  if os.path.exists(done):
    with open(done, encoding="utf-8") as f:
      record = json.load(f)
    if record["config"] != json.loads(c.to_json_best_effort()):
      raise FlowposeError(f"{done} was trained with another config; use another --out, or delete "
                          f"{workdir} to train this point again")
    log.info("study: %s already done, skipped", point.name)
    return record
  log.info("study: training %s", point)
  jobs.train(c, workdir)
  record = {"point": dataclasses.asdict(point), "config": json.loads(c.to_json_best_effort()),
            **_score(workdir, c)}
  fileio.write_text(done, json.dumps(record, indent=1))
  return record


def _fits(records: list[dict], models) -> dict:
  fits = {}
  for m in models:
    for t in (*TYPES, "average"):
      rows = [(r["point"]["frames"], r["accuracy"][t]) for r in records
              if r["point"]["model"] == m and r["point"]["role"] == "clean"]
      fit = fit_power_law(*zip(*rows)) if rows else None
      if fit is not None:
        fits[f"{m}/{t}"] = fit
  return fits


def write_outputs(summary: dict, out_dir: str, title: str) -> None:
  """``study.json`` (the summary), ``study.csv`` (one row per point) and ``data_scaling.png``."""
  records = summary["points"]
  fileio.write_text(os.path.join(out_dir, "study.json"), json.dumps(summary, indent=1))
  types = (*TYPES, "average")
  with fileio.atomic_output(os.path.join(out_dir, "study.csv")) as tmp, open(tmp, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["point", "model", "frames", "noisy", "loss", "role", "d", *types])
    for r in records:
      p = r["point"]
      w.writerow([p["name"], p["model"], p["frames"], p["noisy"], p["loss"], p["role"], r["d"],
                  *(f"{100 * r['accuracy'][t]:.2f}" for t in types)])
  from flowpose_jax.evaluate import plots  # pylint: disable=import-outside-toplevel
  plots.plot_data_scaling(records, summary["fits"], os.path.join(out_dir, "data_scaling.png"), types,
                          title=title)


def data_scaling(config, out_dir: str, sizes: list[int], *, models: tuple[str, ...] = MODELS,
                 noisy: str = "", predict_next: bool = True) -> dict:
  """Runs (or resumes) the data-scaling study; returns {"points", "fits", "prediction"}.

  Args:
    config: the base training config (its dataset, input, budget).
    out_dir: the study folder (one workdir per point).
    sizes: clean training set sizes, in records.
    models: networks to compare (``MODELS``).
    noisy: "NAME:SPLIT" of noisily labelled extra training data, or "".
    predict_next: fit the power law and train the next size (2x the largest)
      when the clean split holds that many records.
  """
  os.makedirs(out_dir, exist_ok=True)
  records = [run_point(config, p, out_dir) for p in data_scaling_points(sizes, models, noisy)]
  fits = _fits(records, models)
  prediction = {}
  available = len(load_source(config.dataset.name, config.dataset.train_split, config.dataset.data_dir))
  next_size = 2 * max(sizes)
  if predict_next and next_size <= available:
    for m in models:
      fit = fits.get(f"{m}/average")
      if fit is None:
        continue
      record = run_point(config, Point(f"{m}-n{next_size}", m, next_size, role="predicted"), out_dir)
      records.append(record)
      prediction[m] = {"frames": next_size, "predicted": float(power_law(next_size, **fit)),
                       "measured": record["accuracy"]["average"]}
  summary = {"points": records, "fits": fits, "prediction": prediction}
  write_outputs(summary, out_dir, f"{config.dataset.name}: accuracy at d = {records[0]['d']:g} "
                                  f"vs training records")
  return summary


@dataclasses.dataclass(frozen=True)
class PoolingPoint:
  """One flowing-stage run of the pooling study: ``pooling`` over a 2n+1 window, ``flow`` source."""
  name: str
  pooling: str
  n: int
  flow: str

  def configure(self, config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict(config.to_dict())  # references resolved: set n and num_frames together
    c.model.pooling = self.pooling
    c.flow.n = self.n
    c.model.num_frames = 2 * self.n + 1
    c.flow.source = self.flow
    return c


def pooling_points(windows: list[int], poolings: list[str], flows: list[str]) -> list[PoolingPoint]:
  """Every (flow source, pooling, n) of the temporal study."""
  return [PoolingPoint(f"{flow}-{pooling}-n{n}", pooling, int(n), flow)
          for flow in flows for pooling in poolings for n in sorted(windows)]


def pooling_study(config, out_dir: str, windows: list[int], poolings: list[str], flows: list[str]) -> dict:
  """The paper's temporal study: accuracy vs window n per pooling and flow source (resumable).

  ``config`` is a flowing-stage config (``configs/flow.py``) whose ``init_from``
  names the trained single-frame run; that run's own scores (conv8, +fusion)
  are the baselines. Writes ``pooling.json``, ``pooling.csv`` and
  ``pooling_vs_n.png`` to ``out_dir``.
  """
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  from flowpose_jax.evaluate import protocols  # pylint: disable=import-outside-toplevel
  if not config.get("init_from") or config.get("flow") is None:
    raise ConfigError("the pooling study trains the flowing stage: use configs/flow.py with "
                      "--config.init_from=<single-frame workdir>")
  os.makedirs(out_dir, exist_ok=True)
  d = protocols.for_dataset(config.dataset.name, config.eval.threshold).headline
  baselines = {}
  for output, label in (("heatmap", "single-frame (conv8)"), ("fusion", "single-frame + fusion")):
    result, _ = jobs.evaluate_workdir(config.init_from, split=config.dataset.test_split, output=output,
                                      out_dir=os.path.join(out_dir, f"baseline_{output}"))
    baselines[label] = accuracy_at(result, d)
  records = [run_point(config, p, out_dir) for p in pooling_points(windows, poolings, flows)]
  summary = {"d": d, "baselines": baselines, "points": records}
  fileio.write_text(os.path.join(out_dir, "pooling.json"), json.dumps(summary, indent=1))
  types = ("wrists", "elbows", "shoulders", "head", "average")
  with fileio.atomic_output(os.path.join(out_dir, "pooling.csv")) as tmp, open(tmp, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["run", "flow", "pooling", "n", *types])
    for label, acc in baselines.items():
      w.writerow([label, "", "", 0, *(f"{100 * acc[t]:.2f}" for t in types)])
    for r in records:
      p = r["point"]
      w.writerow([p["name"], p["flow"], p["pooling"], p["n"], *(f"{100 * r['accuracy'][t]:.2f}" for t in types)])
  from flowpose_jax.evaluate import plots  # pylint: disable=import-outside-toplevel
  plots.plot_pooling_vs_n(summary, os.path.join(out_dir, "pooling_vs_n.png"), ("wrists", "elbows"),
                          title=f"{config.dataset.name}: accuracy at d = {d:g} vs window n")
  return summary


__all__ = ["Point", "PoolingPoint", "pooling_points", "pooling_study", "data_scaling", "data_scaling_points", "fit_power_law", "power_law", "point_config",
           "model_config", "run_point"]
