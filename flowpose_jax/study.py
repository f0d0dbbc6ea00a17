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
(rising, or falling with b < 0) is fitted to the clean sizes' mean accuracies; with ``MIN_FIT_POINTS`` sizes
or more the study also trains twice the largest size (when the split has the
records) and reports predicted vs measured. Outputs: ``<out>/study.json``,
``study.csv`` and ``data_scaling.png``.

  flowpose study data-scaling --config configs/realpose.py:lsp --config.init_from= \\
      --out studies/lsp_scaling --scale_set lsp/extended:train[:9500] --sizes 0,1000,3000,9500 \\
      --widths 0.25,0.5 --same_compute --seeds 2

asks how much added data helps on real people: Buffy episode-4 accuracy vs
the number N of LSP-extended images added to the training set. ``--scale_set``
names one ``dataset.extra_train`` entry exactly as written there; a size-N
point sets ``dataset.subset_of`` to it, so N counts records of that set
(nested, drawn with ``subset_seed`` as above; N = 0: none added, and its
``train_shares`` entry goes with it) while ``train_split`` and the other
extra sets stay whole (Buffy's episodes 2 + 3 and PARSE here). With
``train_shares`` ("5,1,4" in configs/realpose.py:lsp) the added set keeps its
share of every epoch at each N > 0 (its N records repeat): N varies how many
distinct images fill that share; ``--config.dataset.train_shares=`` mixes by
record counts instead. ``--widths`` trains each network at every
``model.width`` (``--models`` then defaults to HeatmapNet alone): the setting
names the width, "heatmap_net-w0.5-n3000", and each width is its own curve
(fit, table row, line of the figure). ``--same_compute`` gives every width
the training FLOPs of the config's own width: ``num_train_steps`` x
``forward_flops(config width) / forward_flops(w)``, rounded
(``same_compute_steps``; ``--list_points`` prints each point's steps). A
width other than the config's cannot start from ``config.init_from``'s
weights, hence ``--config.init_from=`` (all widths from scratch).

``--input_sizes 128,192`` varies the cost the other way, ``input.size``
("heatmap_net-s192-n3000"), combined with ``--widths`` if both are given; a
HeatmapNet of any input size is fully convolutional, so every size starts
from ``config.init_from`` (e.g. the synthetic demo model), and
``--same_compute`` gives each size the config's training FLOPs.

``--crop frame --flip_test --distances 10`` scores every point on
``dataset.test_split``'s whole frames with the flip test (``Scoring``), at the
protocol's headline d (20 px for realpose) and at 10 px (``study_d10.csv``,
``data_scaling_d10.png``); changing the scoring later scores the finished
points again from their workdirs, without retraining.

With ``--scale_set`` the power law is ``acc(N) = a - b (N + N0)^-c``, N0 the
records always trained on (``train_split`` and the other extra sets, 552 for
Buffy + PARSE): the same three parameters over all the distinct training
records, so N = 0 is a point of the fit and of the figure's log axis, whose
x is N + N0 (``study.json``'s "base_records" is N0).

  flowpose study pooling --config configs/flow.py --config.init_from=workdirs/demo \\
      --out studies/pooling --windows 1,3,7,15 --poolings sum,parametric,data_dependent \\
      --flow_sources gt,dis_fine --seeds 3

trains the flowing stage for every (flow source, pooling, n) on top of one
single-frame run (``flowpose study pooling`` gives it that run's data and
network shape first: ``inherit_stage1``) and draws accuracy vs n per pooling
(``pooling_vs_n.png``), with the single-frame run's own scores as the
baselines; ``pooling.md`` and ``pooling_curves.png`` compare the baselines and
each pooling at its largest n over every distance, and every parametric run
draws its learned weights (``<out>/<run>/pooling_weights.png``).

Points. Each setting (a model, width and size, or a pooling, n and flow source) is
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
from collections.abc import Callable, Mapping, Sequence

import ml_collections
import numpy as np

from flowpose_jax import fileio
from flowpose_jax.data.augment import CROP_MODES
from flowpose_jax.data.sources import extra_sets, load_source, subset_set
from flowpose_jax.errors import ConfigError, FlowposeError
from flowpose_jax.flow.compute import FB_CONFIDENCE, GT_SOURCE, VALID_CONFIDENCE
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

  setting: the runs that differ only in ``seed`` share it ("heatmap_net-n250",
    "heatmap_net-w0.5-n3000").
  model: ``config.model.name``.
  frames: clean training records (the noisy extra not counted); with
    ``scale_set``, records of that set added to the rest (0: none).
  noisy: the extra training data "NAME:SPLIT", or "".
  loss: ``config.loss.kind``.
  role: "clean" | "noisy" | "predicted" (the power law's next size).
  seed: ``config.seed``.
  subset_seed: draws the ``frames`` records (``config.dataset.train_subset_seed``).
  scale_set: the ``config.dataset.extra_train`` entry ``frames`` counts
    (``config.dataset.subset_of``), or "": records of ``train_split``.
  width: ``config.model.width`` (0: the config's).
  steps: ``config.num_train_steps`` (0: the config's).
  input_size: ``config.input.size`` (0: the config's).
  """
  setting: str
  model: str
  frames: int
  noisy: str = ""
  loss: str = "l2"
  role: str = "clean"
  seed: int = 0
  subset_seed: int = DEFAULT_SUBSET_SEED
  scale_set: str = ""
  width: float = 0.0
  steps: int = 0
  input_size: int = 0

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


def curve_name(model: str, width: float = 0.0, input_size: int = 0) -> str:
  """A network's name in settings, fits and figures: the model, and its width and input size
  when the study varies them ("heatmap_net", "heatmap_net-w0.5", "heatmap_net-s192")."""
  return model + (f"-w{width:g}" if width else "") + (f"-s{input_size}" if input_size else "")


def point_config(config: ml_collections.ConfigDict, point: Point) -> ml_collections.ConfigDict:
  """``config`` for one point: model, width, input size, steps, seed, ``frames`` random training
  records (of ``train_split``, or of ``scale_set`` beside the config's other sets), extra data, loss."""
  c = model_config(config, point.model)
  c.seed = point.seed
  if point.width:
    c.model.width = point.width
  if point.input_size:
    c.input.size = point.input_size
  if point.steps:
    c.num_train_steps = point.steps
  c.dataset.train_subset = point.frames
  c.dataset.train_subset_seed = point.subset_seed
  c.dataset.subset_of = point.scale_set
  if not point.scale_set:  # a scale_set is one of the config's extra_train sets: they stay
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
                        predict_size: int = 0, scale_set: str = "", widths: Sequence[float] = (),
                        input_sizes: Sequence[int] = (),
                        steps: Mapping[tuple[str, float, int], int] | None = None) -> list[Point]:
  """The clean points (every model x width x input size x size), with ``noisy`` the clean + noisy
  ones, with ``predict_size`` the power law's next size per network; each once per seed.

  ``scale_set``: sizes count records of that extra set (0 allowed: none added).
  ``widths``: ``model.width`` values, each network trained at every one (() = the config's).
  ``input_sizes``: ``input.size`` values likewise (() = the config's).
  ``steps``: {(model, width, input size): num_train_steps} (``same_compute_steps``; 0.0 / 0 the
  config's width / size); absent = the config's.
  """
  sizes = sorted(int(s) for s in sizes)
  if not sizes or sizes[0] < (0 if scale_set else 1):
    raise ConfigError(f"--sizes {sizes}: give positive numbers of training records, e.g. 250,500,1000"
                      + (" (0 = none of the --scale_set added)" if scale_set else ""))
  if any(w <= 0 for w in widths):
    raise ConfigError(f"--widths {','.join(f'{w:g}' for w in widths)}: give positive model.width multipliers")
  if any(int(v) != v or v <= 0 or int(v) % 16 for v in input_sizes):
    raise ConfigError(f"--input_sizes {','.join(str(v) for v in input_sizes)}: give input sides in px that are "
                      f"multiples of 16 (the HeatmapNet's pooling), e.g. 128,192")
  point = functools.partial(Point, subset_seed=subset_seed, scale_set=scale_set)
  nets = [(m, dict(width=float(w), input_size=int(v), steps=(steps or {}).get((m, float(w), int(v)), 0)),
           curve_name(m, w, int(v))) for m in models for w in (widths or (0.0,)) for v in (input_sizes or (0,))]
  points = [point(f"{c}-n{n}", m, n, **net) for m, net, c in nets for n in sizes]
  if noisy:
    for m, net, c in nets:
      points.append(point(f"{c}-n{sizes[-1]}-noisy-l2", m, sizes[-1], noisy=noisy, role="noisy", **net))
    for m, net, c in nets:
      if m == "heatmap_net":
        points.append(point(f"{c}-n{sizes[-1]}-noisy-{ROBUST_KIND}", m, sizes[-1], noisy=noisy, loss=ROBUST_KIND,
                            role="noisy", **net))
  if predict_size:
    points += [point(f"{c}-n{predict_size}", m, predict_size, role="predicted", **net) for m, net, c in nets]
  return with_seeds(points, seeds)


def forward_flops(config: ml_collections.ConfigDict) -> float:
  """FLOPs of ``config``'s model on one ``config.input.size``² frame: XLA's cost analysis of
  the jitted forward pass (``models.forward_fn``) over abstract params, nothing allocated."""
  import jax  # pylint: disable=import-outside-toplevel
  from flowpose_jax import models, workdir as workdir_lib  # pylint: disable=import-outside-toplevel
  graphdef, params = workdir_lib.abstract_model(config)
  s = int(config.input.size)
  frame = jax.ShapeDtypeStruct((1, s, s, 3), np.uint8)
  compiled = jax.jit(models.forward_fn(graphdef)).lower(params, frame).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost  # one entry per program in older jax
  return float(cost["flops"])


def same_compute_steps(config: ml_collections.ConfigDict, model: str, widths: Sequence[float] = (),
                       input_sizes: Sequence[int] = ()) -> dict[tuple[float, int], int]:
  """{(width, input size): num_train_steps} giving ``model`` at each width and input size the
  training FLOPs of ``config``'s: ``round(config.num_train_steps * F(config) / F(width, size))``,
  F = ``forward_flops`` (a training step's FLOPs taken as proportional to its forward pass's: same
  batch). A width of 0.0 or size of 0 (none given) is the config's."""
  base = model_config(config, model)
  reference = forward_flops(base)
  steps = {}
  for w in widths or (0.0,):
    for v in input_sizes or (0,):
      c = ml_collections.ConfigDict(base.to_dict())
      c.model.width = float(w) or float(base.model.width)
      c.input.size = int(v) or int(base.input.size)
      same = (c.model.width, c.input.size) == (float(base.model.width), int(base.input.size))
      flops = reference if same else forward_flops(c)
      steps[(float(w), int(v))] = max(1, round(int(config.num_train_steps) * reference / flops))
  return steps


def power_law(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
  """Saturating power law ``a - b * n**-c`` (accuracy vs training records): rising towards a for
  b > 0, falling towards a for b < 0."""
  return a - b * np.power(np.asarray(n, np.float64), -c)


def fit_power_law(frames, accuracy) -> dict | None:
  """Least-squares ``power_law`` fit; None with fewer than ``MIN_FIT_POINTS`` finite points.

  Fitted twice, rising (b >= 0) and falling (b <= 0), keeping the smaller residual: added data
  can also cost accuracy on the test set (another domain taking a share of every batch), and a
  rising law forced on falling means would be a flat line that hides it.

  Returns {"a", "b", "c", "rms"}: the asymptote a in [0, 1], 0 < c <= 3, and the root-mean-square
  residual (accuracy units) of the means fitted.
  """
  from scipy.optimize import OptimizeWarning, curve_fit  # pylint: disable=import-outside-toplevel
  n = np.asarray(frames, np.float64)
  y = np.asarray(accuracy, np.float64)
  ok = np.isfinite(y)
  if ok.sum() < MIN_FIT_POINTS:
    return None
  n, y = n[ok], y[ok]
  scale = max(1e-3, (y.max() - y.min() + 0.05) * n.min() ** 0.5)
  best = None
  for sign in (1.0, -1.0):
    a0 = min(1.0, y.max() + 0.05) if sign > 0 else max(0.0, y.min() - 0.05)
    b_bounds = (0.0, np.inf) if sign > 0 else (-np.inf, 0.0)
    try:
      with warnings.catch_warnings():  # three sizes fit exactly: no covariance, which is not used
        warnings.simplefilter("ignore", OptimizeWarning)
        params, _ = curve_fit(power_law, n, y, p0=(a0, sign * scale, 0.5),
                              bounds=([0.0, b_bounds[0], 1e-3], [1.0, b_bounds[1], 3.0]), maxfev=20000)
    except RuntimeError:  # no convergence
      continue
    rms = float(np.sqrt(np.mean((power_law(n, *params) - y) ** 2)))
    if best is None or rms < best[1]:
      best = (params, rms)
  if best is None:
    return None
  (a, b, c), rms = best
  return {"a": float(a), "b": float(b), "c": float(c), "rms": rms}


# ----------------------------------------------------------------- running points


@dataclasses.dataclass(frozen=True)
class Scoring:
  """How every point of a study is scored on ``dataset.test_split`` (``jobs.evaluate_workdir``).

  crop: "frame" (the whole frame: find the person, ``passes``), "box" or
    "joints"; None: the point's training ``input.crop`` (what the run itself
    evaluated).
  passes: with crop "frame"; None: ``Predictor.default_passes``.
  flip_test: average each frame's maps with its mirror image's.
  distances: more distances d (the protocol's units) to tabulate and draw
    beside the protocol's headline d; each gets its own CSV and figure.
  """
  crop: str | None = None
  passes: int | None = None
  flip_test: bool = False
  distances: tuple[float, ...] = ()

  def record(self) -> dict:
    """What a point's record keeps, to tell a record scored another way (``run_point``)."""
    return {"crop": self.crop, "passes": self.passes, "flip_test": self.flip_test,
            "distances": [float(d) for d in self.distances]}


DEFAULT_SCORING = Scoring()


@dataclasses.dataclass(frozen=True)
class Study:
  """A study's points and how to tabulate them.

  config: the base config every point's ``configure`` derives from.
  out_dir: one workdir per point, and the study's tables and figures.
  points: every (setting, seed) run, in the order ``run_study``'s ``point`` indexes.
  assemble: (finished records in point order, total points) -> summary; writes the outputs.
  prepare: run by every process after training, before process 0 assembles (None: nothing).
  scoring: how each point is scored (``Scoring``).
  """
  config: ml_collections.ConfigDict
  out_dir: str
  points: tuple
  assemble: Callable[[list[dict], int], dict]
  prepare: Callable[[], object] | None = None
  scoring: Scoring = DEFAULT_SCORING


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
  from flowpose_jax.train.loop import config_changes  # pylint: disable=import-outside-toplevel
  changes = config_changes(record["config"], json.loads(_configured(config, point).to_json_best_effort()))
  if changes:
    raise FlowposeError(f"{done} was trained with another config ({'; '.join(changes)}); use another --out, "
                        f"or delete {os.path.dirname(done)} to train this point again")
  return record


def _distance_key(d: float) -> str:
  """A ``Scoring.distances`` entry as records, summaries and file names write it ("10")."""
  return f"{float(d):g}"


def _score(workdir: str, config, scoring: Scoring = DEFAULT_SCORING) -> dict:
  """{"d": the protocol's headline d, "accuracy": {joint or type: accuracy at d}, "accuracy_at":
  {"<d>": {...}} at ``scoring.distances``, "scoring": ``scoring.record()``}. The evaluation's
  files go to the workdir, or with another crop than training's to ``<workdir>/score_<crop>``."""
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  from flowpose_jax.evaluate import protocols  # pylint: disable=import-outside-toplevel
  out = workdir if scoring.crop is None else os.path.join(workdir, f"score_{scoring.crop}")
  result, _ = jobs.evaluate_workdir(workdir, split=config.dataset.test_split, crop=scoring.crop,
                                    passes=scoring.passes, flip_test=scoring.flip_test, out_dir=out)
  d = protocols.for_dataset(config.dataset.name, config.eval.threshold).headline
  return {"d": d, "accuracy": accuracy_at(result, d),
          "accuracy_at": {_distance_key(k): accuracy_at(result, float(k)) for k in scoring.distances},
          "scoring": scoring.record()}


def _scored_as(record: dict, scoring: Scoring) -> bool:
  """Whether ``record`` was scored as ``scoring`` says (records from before ``Scoring``: the default)."""
  return record.get("scoring", DEFAULT_SCORING.record()) == scoring.record()


def run_point(config, point, out_dir: str, scoring: Scoring = DEFAULT_SCORING) -> dict:
  """Trains and scores one point (``Point`` or ``PoolingPoint``: its ``configure(config)`` gives
  the run's config), unless its ``point.json`` exists; returns its record.

  A finished point scored another way (another ``scoring``) is scored again from its
  trained workdir, not retrained, and its ``point.json`` rewritten.
  Every process of a multi-process run trains and scores; process 0 writes ``point.json``.
  """
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  record = _finished_record(config, point, out_dir)
  workdir = os.path.join(out_dir, point.name)
  c = _configured(config, point)
  if record is not None:
    if _scored_as(record, scoring):
      log.info("study: %s already done, skipped", point.name)
      return record
    log.info("study: %s trained, scored again (%s)", point.name, scoring.record())
    record = {**record, **_score(workdir, c, scoring)}  # replaces every score field
  else:
    configured = json.loads(c.to_json_best_effort())  # before training fills in fields (input.spatial_crop)
    log.info("study: training %s", point)
    jobs.train(c, workdir)
    record = {"point": {**dataclasses.asdict(point), "name": point.name}, "config": configured,
              **_score(workdir, c, scoring), **point.extras(workdir)}
  if _is_main_process():
    fileio.write_text(os.path.join(workdir, POINT_FILE), json.dumps(record, indent=1))
  return record


def list_points(study: Study) -> list[dict]:
  """[{"index", "name", "seed", "steps", "done"}] for every point, in ``run_study`` order ("steps":
  the point's own ``num_train_steps``, 0 = the config's)."""
  return [{"index": i, "name": p.name, "seed": p.seed, "steps": getattr(p, "steps", 0),
           "done": _done(study, p)} for i, p in enumerate(study.points)]


def _done(study: Study, point) -> bool:
  """Whether ``point`` has a ``point.json`` scored as ``study.scoring`` says."""
  path = os.path.join(study.out_dir, point.name, POINT_FILE)
  if not os.path.exists(path):
    return False
  with open(path, encoding="utf-8") as f:
    return _scored_as(json.load(f), study.scoring)


def finished_records(study: Study) -> list[dict]:
  """The records of the finished points scored as the study says, in point order (a point scored
  another way counts as unfinished until ``run_point`` scores it again)."""
  records = (_finished_record(study.config, p, study.out_dir) for p in study.points)
  return [r for r in records if r is not None and _scored_as(r, study.scoring)]


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
    run_point(study.config, p, study.out_dir, study.scoring)
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


def _curve(point: dict) -> str:
  """A table row's network (``curve_name``; records written before widths or input sizes have none)."""
  return curve_name(point["model"], point.get("width", 0.0), point.get("input_size", 0))


def _fits(rows: list[dict], base_records: int = 0) -> dict:
  """Power laws over the clean settings' mean accuracies, per "<network>/<type>" (``curve_name``),
  in N + ``base_records`` (the records every point trains on beside its N)."""
  fits = {}
  for curve in dict.fromkeys(_curve(r["point"]) for r in rows):
    for t in (*TYPES, "average"):
      points = [(r["point"]["frames"] + base_records, r["accuracy"][t]) for r in rows
                if _curve(r["point"]) == curve and r["point"]["role"] == "clean"]
      fit = fit_power_law(*zip(*points)) if points else None
      if fit is not None:
        fits[f"{curve}/{t}"] = fit
  return fits


# Columns of study.csv beyond the paper's, written only when a setting sets them (--scale_set, --widths).
OPTIONAL_COLUMNS = ("scale_set", "width", "input_size", "steps")


def write_outputs(summary: dict, out_dir: str, title: str, suffix: str = "") -> None:
  """``study.json`` (the summary), ``study.csv`` (one row per setting: mean and ``SPREAD`` over
  its seeds) and ``data_scaling.png`` (means with error bars, one curve per ``curve_name``, over
  N + ``summary["base_records"]``). ``suffix`` (e.g. "_d10"): the CSV and figure of another
  distance, ``study<suffix>.csv`` and ``data_scaling<suffix>.png``, and no ``study.json``."""
  rows = summary["points"]
  base = summary.get("base_records", 0)
  if not suffix:
    fileio.write_text(os.path.join(out_dir, "study.json"), json.dumps(summary, indent=1))
  types = (*TYPES, "average")
  optional = [k for k in OPTIONAL_COLUMNS if any(r["point"].get(k) for r in rows)]
  head = ["point", "model", "frames", "noisy", "loss", "role", "subset_seed", "seeds", "runs", "d", *optional]
  _write_csv(os.path.join(out_dir, f"study{suffix}.csv"), head,
             [([p["name"], p["model"], p["frames"], p["noisy"], p["loss"], p["role"], p["subset_seed"],
                _seeds_cell(r), r["runs"], r["d"], *(p.get(k) or "" for k in optional)], r["accuracy"], r[SPREAD])
              for r in rows for p in [r["point"]]], types)
  from flowpose_jax.evaluate import plots  # pylint: disable=import-outside-toplevel
  # plots.plot_data_scaling draws a curve per point["model"] over point["frames"]: give it the network
  # and the records trained on.
  drawn = [dict(r, point=dict(r["point"], model=_curve(r["point"]), frames=r["point"]["frames"] + base))
           for r in rows]
  plots.plot_data_scaling(drawn, summary["fits"], os.path.join(out_dir, f"data_scaling{suffix}.png"), types,
                          title=title)


def _at_distance(records: list[dict], d: float) -> list[dict]:
  """``records`` with their accuracies at ``d`` (a ``Scoring.distances`` entry) as "accuracy"."""
  return [dict(r, d=float(d), accuracy=r["accuracy_at"][_distance_key(d)]) for r in records]


def _data_scaling_summary(records: list[dict], total: int, *, out_dir: str, dataset: str,
                          seeds: list[int], subset_seed: int, scale_set: str = "", base_records: int = 0,
                          scoring: Scoring = DEFAULT_SCORING) -> dict:
  """``Study.assemble`` of the data-scaling study: fits on the per-size means, the prediction;
  at each of ``scoring.distances`` beyond the headline d, the rows and fits again ("at_distances",
  and ``study_d<d>.csv``, ``data_scaling_d<d>.png``)."""
  at_distances = {}
  for d in scoring.distances:
    rows_d = aggregate(_at_distance(records, d))
    at_distances[_distance_key(d)] = {"points": rows_d, "fits": _fits(rows_d, base_records)}
  rows = aggregate(records)
  fits = _fits(rows, base_records)
  prediction = {}
  for r in rows:
    fit = fits.get(f"{_curve(r['point'])}/average")
    if r["point"]["role"] == "predicted" and fit is not None:
      frames = r["point"]["frames"]
      prediction[_curve(r["point"])] = {
          "frames": frames, "predicted": float(power_law(frames + base_records, fit["a"], fit["b"], fit["c"])),
          "measured": r["accuracy"]["average"], f"measured_{SPREAD}": r[SPREAD]["average"], "runs": r["runs"]}
  summary = {"spread": SPREAD_NOTE, "subset_seed": subset_seed, "seeds": seeds, "finished": len(records),
             "total": total, "scoring": scoring.record(), "points": rows, "fits": fits,
             "prediction": prediction, "runs": records}
  if at_distances:
    summary["at_distances"] = at_distances
  what = "training records"
  if scale_set:
    summary.update(scale_set=scale_set, base_records=base_records,
                   fit="acc(N) = a - b (N + base_records)^-c, N records of scale_set added")
    what = f"N + {base_records} training records (N of {scale_set} added)"
  how = ("" if scoring.crop is None else f", {scoring.crop}") + (", flip test" if scoring.flip_test else "")
  write_outputs(summary, out_dir, f"{dataset}: accuracy at d = {records[0]['d']:g}{how} vs {what} "
                                  f"({len(records)} of {total} runs)")
  for key, at in at_distances.items():
    write_outputs({**summary, **at}, out_dir, f"{dataset}: accuracy at d = {key}{how} vs {what} "
                                              f"({len(records)} of {total} runs)", suffix=f"_d{key}")
  return summary


def _records(config, name: str, split: str) -> int:
  """Records in ``name:split`` (a missing synthetic set is built, as training would)."""
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  jobs.ensure_dataset(name, config.dataset.data_dir)
  return len(load_source(name, split, config.dataset.data_dir))


def _scaled_records(config, scale_set: str) -> tuple[int, int, str]:
  """(records the sizes draw from, records every point trains on beside them, the fix when a size
  is too large): ``train_split`` and 0, or with ``scale_set`` that extra set and the others."""
  d = config.dataset
  if not scale_set:
    return _records(config, d.name, d.train_split), 0, "or a larger split with --config.dataset.train_split"
  try:
    target = subset_set(ml_collections.ConfigDict({"extra_train": d.extra_train, "subset_of": scale_set}))
  except ConfigError as e:
    raise ConfigError(f"--scale_set {scale_set}: {e}") from None
  counts = [_records(config, name, split) for name, split in [(d.name, d.train_split)] + extra_sets(d)]
  return counts[target], sum(counts) - counts[target], "or a larger split of it in --config.dataset.extra_train"


def data_scaling_plan(config, out_dir: str, sizes: list[int], *, models: tuple[str, ...] = MODELS,
                      noisy: str = "", predict_next: bool = True, seeds: int = 1,
                      subset_seed: int = DEFAULT_SUBSET_SEED, scale_set: str = "",
                      widths: Sequence[float] = (), input_sizes: Sequence[int] = (),
                      same_compute: bool = False, scoring: Scoring = DEFAULT_SCORING) -> Study:
  """The data-scaling study's points; ``run_study`` runs them.

  Args:
    config: the base training config (its dataset, input, budget; ``seed`` the first seed).
    out_dir: the study folder (one workdir per point).
    sizes: clean training set sizes, in records of ``dataset.train_split`` (of
      ``scale_set`` when given: 0 allowed, none of it added).
    models: networks to compare (``MODELS``).
    noisy: "NAME:SPLIT" of noisily labelled extra training data, or "".
    predict_next: with ``MIN_FIT_POINTS`` sizes or more, also train the next
      size (2x the largest) when the split holds that many records.
    seeds: trainings per setting (``study_seeds``).
    subset_seed: draws each size's records (nested: a smaller set lies inside a larger).
    scale_set: one ``dataset.extra_train`` entry "NAME:SPLIT" as written there
      (``dataset.subset_of``), or "": ``train_split``.
    widths: ``model.width`` values, each network at every one (() = the config's).
    input_sizes: ``input.size`` values likewise (() = the config's): the other
      way to vary the model's cost; a HeatmapNet of any input size starts from
      ``config.init_from`` (it is fully convolutional).
    same_compute: ``num_train_steps`` per width and input size at the config's
      training FLOPs (``same_compute_steps``).
    scoring: how each point is scored (``Scoring``: e.g. whole frames, more distances).
  """
  if scale_set and noisy:
    raise ConfigError(f"--noisy {noisy} with --scale_set {scale_set}: the noisy points replace "
                      f"dataset.extra_train, the scaled set is one of its entries; give one of them")
  if same_compute and not (widths or input_sizes):
    raise ConfigError("--same_compute sets num_train_steps per --widths or --input_sizes entry: give one, "
                      "e.g. --widths 0.25,0.5 or --input_sizes 128,192")
  width, size = float(config.model.width), int(config.input.size)
  if config.get("init_from") and any(float(w) != width for w in widths):
    raise ConfigError(f"--widths {','.join(f'{w:g}' for w in widths)}: config.init_from={config.init_from!r} "
                      f"fits only the config's model.width {width:g}; train every width from scratch "
                      f"(--config.init_from=) or give --widths {width:g}")
  if config.get("init_from") and "coordinate_net" in models and any(int(v) != size for v in input_sizes):
    raise ConfigError(f"--input_sizes {','.join(map(str, input_sizes))} with coordinate_net: its dense layers "
                      f"fit only the input size of config.init_from={config.init_from!r}; use --models heatmap_net "
                      f"or --config.init_from=")
  _check_scoring(config, scoring)
  available, base_records, fix = _scaled_records(config, scale_set)
  if max(sizes, default=0) > available:
    where = scale_set or f"{config.dataset.name}:{config.dataset.train_split}"
    raise ConfigError(f"--sizes {','.join(map(str, sizes))}: {where} has only {available} records; "
                      f"give sizes up to {available}, {fix}")
  next_size = 2 * max(sizes, default=0)
  predict = predict_next and len(set(sizes)) >= MIN_FIT_POINTS and 0 < next_size <= available
  seed_list = study_seeds(config, seeds)
  steps = ({(m, w, v): k for m in models for (w, v), k in same_compute_steps(config, m, widths, input_sizes).items()}
           if same_compute else None)
  points = data_scaling_points(sizes, models, noisy, seeds=seed_list, subset_seed=subset_seed,
                               predict_size=next_size if predict else 0, scale_set=scale_set, widths=widths,
                               input_sizes=input_sizes, steps=steps)
  return Study(config, out_dir, tuple(points), functools.partial(
      _data_scaling_summary, out_dir=out_dir, dataset=config.dataset.name, seeds=seed_list,
      subset_seed=subset_seed, scale_set=scale_set, base_records=base_records, scoring=scoring), scoring=scoring)


def _check_scoring(config, scoring: Scoring) -> None:
  """Refuses a ``Scoring`` the evaluation cannot do, before anything trains."""
  if scoring.crop is not None and scoring.crop not in CROP_MODES:
    raise ConfigError(f"--crop {scoring.crop}: give one of {', '.join(CROP_MODES)}")
  top = int(config.eval.max_distance)
  bad = [d for d in scoring.distances if not (float(d).is_integer() and 0 < d <= top)]
  if bad:
    raise ConfigError(f"--distances {','.join(f'{d:g}' for d in scoring.distances)}: the evaluation measures "
                      f"whole distances 1..{top} (config.eval.max_distance); {', '.join(f'{d:g}' for d in bad)} "
                      f"is not one")
  if scoring.passes is not None and scoring.crop != "frame":
    raise ConfigError(f"--passes {scoring.passes} applies to whole frames: add --crop frame")


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
    if self.flow_source == GT_SOURCE and c.flow.get("confidence") == FB_CONFIDENCE:
      c.flow.confidence = VALID_CONFIDENCE  # exact flow has no error for a forward-backward test to find
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
  from flowpose_jax.evaluate import plots, protocols  # pylint: disable=import-outside-toplevel
  split = config.dataset.test_split
  unit = protocols.for_dataset(config.dataset.name, config.eval.threshold).short_unit
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
                    f"# {config.dataset.name} {split}, mean over seeds\n\n{plots.format_table(curves, d, unit)}\n")
  plots.plot_accuracy_curves(curves, os.path.join(out_dir, "pooling_curves.png"), threshold=d,
                             title=f"{config.dataset.name} {split}: single-frame vs flowing", unit=unit)


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


__all__ = ["Point", "PoolingPoint", "Study", "aggregate", "assemble", "curve_name", "data_scaling",
           "data_scaling_plan", "data_scaling_points", "finished_records", "fit_power_law", "forward_flops",
           "inherit_stage1", "list_points", "model_config", "point_config", "pooling_plan", "pooling_points",
           "pooling_study", "power_law", "run_name", "run_point", "run_study", "same_compute_steps",
           "study_seeds", "with_seeds"]
