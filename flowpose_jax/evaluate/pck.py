"""Accuracy vs. distance (paper §4): a joint is correct iff its error <= d px.

Pure numpy, no config. The functions return sums and counts; the accumulator
divides once in ``result()``. Errors are Euclidean distances in the pixels of
whatever frame the caller measures in (the evaluator uses original frame px).

Masking: a ground-truth joint counts only if it is present
(``flowpose_jax.joints.joints_present``: visible, finite, above
``MISSING_SENTINEL``). A non-finite *prediction* of a counted joint is a miss
(error = inf), never excluded.
"""

from __future__ import annotations

import numpy as np

from flowpose_jax.joints import JOINT_NAMES, JOINT_TYPES, joints_present

AVERAGE = "average"  # name of the curve pooled over all joints


def _check_inputs(pred, gt, visible) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  pred = np.asarray(pred, np.float64)
  gt = np.asarray(gt, np.float64)
  visible = np.asarray(visible, bool)
  if gt.ndim != 3 or gt.shape[-1] != 2:
    raise ValueError(f"gt must be [N, J, 2], got shape {gt.shape}")
  if pred.shape != gt.shape:
    raise ValueError(f"pred shape {pred.shape} != gt shape {gt.shape}")
  if visible.shape != gt.shape[:2]:
    raise ValueError(f"visible must be {gt.shape[:2]}, got {visible.shape}")
  return pred, gt, visible


def _check_thresholds(thresholds) -> np.ndarray:
  thresholds = np.array(thresholds, np.float64).reshape(-1)
  if thresholds.size == 0 or not np.all(np.isfinite(thresholds)) or np.any(thresholds < 0):
    raise ValueError(f"thresholds must be a non-empty list of finite distances >= 0 px, got {thresholds}")
  return thresholds


def joint_errors(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
  """Euclidean error per joint.

  Args:
    pred: [N, J, 2] float, predicted (x, y) px.
    gt: [N, J, 2] float, ground-truth (x, y) px; missing joints
      (``joints_present``) are masked.
    visible: [N, J] bool.

  Returns:
    [N, J] float64 error in px; NaN where the joint is masked (not visible or
    missing gt); inf where gt counts but the prediction is non-finite.
  """
  pred, gt, visible = _check_inputs(pred, gt, visible)
  valid = joints_present(gt, visible)
  with np.errstate(invalid="ignore"):
    err = np.sqrt(np.sum((pred - gt) ** 2, axis=-1))
  err = np.where(np.isfinite(err), err, np.inf)
  return np.where(valid, err, np.nan)


def hits_from_errors(errors: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Correct-joint counts at each distance, from per-joint errors.

  Args:
    errors: [N, J] float errors in any unit (NaN = masked, not counted; inf =
      counted miss), e.g. from ``joint_errors`` or ``protocols.apply_protocol``.
    thresholds: [D] distances d in the same unit (>= 0).

  Returns:
    hits: [D, J] int64, number of counted joints with error <= d.
    counts: [J] int64, number of counted (unmasked) joints.
  """
  thresholds = _check_thresholds(thresholds)
  errors = np.asarray(errors, np.float64)
  if errors.ndim != 2:
    raise ValueError(f"errors must be [N, J], got shape {errors.shape}")
  valid = ~np.isnan(errors)
  with np.errstate(invalid="ignore"):
    correct = (errors[None] <= thresholds[:, None, None]) & valid[None]  # [D, N, J]
  return correct.sum(axis=1, dtype=np.int64), valid.sum(axis=0, dtype=np.int64)


def hits_and_counts(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray,
                    thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """``hits_from_errors`` of ``joint_errors(pred, gt, visible)`` (frame px).

  Args:
    pred, gt, visible: as in ``joint_errors``: [N, J, 2], [N, J, 2], [N, J].
    thresholds: [D] distances d in px (>= 0).
  """
  return hits_from_errors(joint_errors(pred, gt, visible), thresholds)


def _ratio(hits: np.ndarray, counts: np.ndarray) -> np.ndarray:
  """hits / counts as float64, NaN where counts == 0 (no divide warning)."""
  out = np.full(np.broadcast(hits, counts).shape, np.nan)
  np.divide(hits, counts, out=out, where=counts > 0)
  return out


class PCKAccumulator:
  """Sums hits and counts over batches; ``result()`` divides once.

  Batched updates give exactly the same result as one update with all data.
  """

  def __init__(self, thresholds: np.ndarray, joint_names: tuple[str, ...] = JOINT_NAMES,
               joint_types: dict[str, tuple[int, ...]] | None = None):
    """Args:
      thresholds: [D] distances d in px.
      joint_names: names of the J joints, in order.
      joint_types: type name -> joint indices pooled into one curve
        (default ``JOINT_TYPES``: head, wrists, elbows, shoulders).
    """
    self.thresholds = _check_thresholds(thresholds)
    self.joint_names = tuple(joint_names)
    self.joint_types = dict(JOINT_TYPES if joint_types is None else joint_types)
    num_joints = len(self.joint_names)
    self.hits = np.zeros((self.thresholds.size, num_joints), np.int64)
    self.counts = np.zeros(num_joints, np.int64)

  def update(self, pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> None:
    """Adds a batch: pred [N, J, 2], gt [N, J, 2], visible [N, J] (see ``joint_errors``)."""
    self.update_errors(joint_errors(pred, gt, visible))

  def update_errors(self, errors: np.ndarray) -> None:
    """Adds a batch of per-joint errors [N, J] (NaN = masked; see ``hits_from_errors``)."""
    hits, counts = hits_from_errors(errors, self.thresholds)
    if counts.shape != self.counts.shape:
      raise ValueError(f"expected {self.counts.size} joints, got {counts.size}")
    self.hits += hits
    self.counts += counts

  def result(self) -> dict:
    """Accuracy curves (fractions in [0, 1]; NaN where nothing was counted).

    Returns:
      dict with
        "thresholds": [D] float64 px;
        "joint_names": tuple of J names;
        "hits": [D, J] int64; "counts": [J] int64;
        "per_joint": [D, J] float64 accuracy;
        "per_type": {type: [D]} accuracy pooling the type's joints' hits and
          counts (left and right together);
        "type_counts": {type: int};
        "average": [D] accuracy pooled over all joints (equals the mean of
          the per-joint curves when every joint has the same count).
    """
    per_type, type_counts = {}, {}
    for name, idx in self.joint_types.items():
      idx = list(idx)
      count = self.counts[idx].sum()
      per_type[name] = _ratio(self.hits[:, idx].sum(axis=1), count)
      type_counts[name] = int(count)
    return {
        "thresholds": self.thresholds.copy(),
        "joint_names": self.joint_names,
        "hits": self.hits.copy(),
        "counts": self.counts.copy(),
        "per_joint": _ratio(self.hits, self.counts[None]),
        "per_type": per_type,
        "type_counts": type_counts,
        AVERAGE: _ratio(self.hits.sum(axis=1), self.counts.sum()),
    }


BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_LEVEL = 0.95


def bootstrap_difference(errors_a: np.ndarray, errors_b: np.ndarray, d: float, *,
                         joint_names: tuple[str, ...] = JOINT_NAMES,
                         joint_types: dict[str, tuple[int, ...]] | None = None,
                         draws: int = BOOTSTRAP_DRAWS, level: float = BOOTSTRAP_LEVEL, seed: int = 0) -> dict:
  """Accuracy of B minus accuracy of A at distance ``d``, with a paired bootstrap interval.

  Both methods are scored on the same frames; each of S runs (e.g. training
  seeds) has its own errors. A draw resamples the runs with replacement and,
  independently, the frames with replacement (the same frames for every run
  and both methods: the comparison stays paired), then takes the mean over the
  drawn runs of B's accuracy minus A's. The interval is the draws' central
  ``level`` percentile range. With one run it is the usual frame bootstrap.

  Args:
    errors_a, errors_b: [S, N, J] (or [N, J]) float per-joint errors (``joint_errors``: NaN masked,
      inf a counted miss); the same joints must be masked in both.
    d: the distance, same unit.
    joint_names, joint_types: as ``PCKAccumulator`` (types pool their joints).
    draws: bootstrap draws; level: interval coverage; seed: the draws' numpy seed.

  Returns:
    {"d", "runs", "frames", "level", "draws", "rows": {name: {"a", "b", "difference", "low", "high",
    "includes_zero"}}} in % points; rows: each joint, then each type, then "average" (all joints pooled).
  """
  a = np.asarray(errors_a, np.float64)
  b = np.asarray(errors_b, np.float64)
  if a.ndim == 2:
    a, b = a[None], b[None]
  if a.shape != b.shape or a.ndim != 3 or a.shape[-1] != len(joint_names):
    raise ValueError(f"errors must both be [S, N, J={len(joint_names)}], got {a.shape} and {b.shape}")
  counted = ~np.isnan(a)
  if not np.array_equal(counted, ~np.isnan(b)):
    raise ValueError("errors_a and errors_b mask different joints: score both on the same annotations")
  if not 0 < level < 1 or draws < 1:
    raise ValueError(f"level must be in (0, 1) and draws >= 1, got {level} and {draws}")
  runs, frames, _ = a.shape
  with np.errstate(invalid="ignore"):
    hit_a, hit_b = (a <= d) & counted, (b <= d) & counted  # [S, N, J]
  groups = {name: [j] for j, name in enumerate(joint_names)}
  groups.update({name: list(idx) for name, idx in (JOINT_TYPES if joint_types is None else joint_types).items()})
  groups[AVERAGE] = list(range(len(joint_names)))

  def accuracy(hits, run_idx, frame_idx, joints):  # mean over the drawn runs of pooled accuracy
    h = hits[run_idx][:, frame_idx][..., joints].sum((1, 2))
    c = counted[run_idx][:, frame_idx][..., joints].sum((1, 2))
    return np.mean(_ratio(h, c))

  rng = np.random.default_rng(seed)
  picks = [(rng.integers(0, runs, runs), rng.integers(0, frames, frames)) for _ in range(draws)]
  every = (np.arange(runs), np.arange(frames))
  tail = 100.0 * (1.0 - level) / 2.0
  rows = {}
  for name, joints in groups.items():
    acc_a, acc_b = accuracy(hit_a, *every, joints), accuracy(hit_b, *every, joints)
    diffs = np.array([accuracy(hit_b, r, f, joints) - accuracy(hit_a, r, f, joints) for r, f in picks])
    diffs = diffs[np.isfinite(diffs)]
    low, high = (np.percentile(diffs, [tail, 100.0 - tail]) if diffs.size else (np.nan, np.nan))
    rows[name] = {"a": 100 * acc_a, "b": 100 * acc_b, "difference": 100 * (acc_b - acc_a),
                  "low": 100 * float(low), "high": 100 * float(high),
                  "includes_zero": bool(low <= 0 <= high) if diffs.size else True}
  return {"d": float(d), "runs": runs, "frames": frames, "level": level, "draws": draws, "rows": rows}


def accuracy_at(result: dict, d: float) -> dict[str, float]:
  """Headline accuracies at one distance.

  Args:
    result: ``PCKAccumulator.result()``.
    d: distance in px; must be one of ``result["thresholds"]``.

  Returns:
    {joint name or type name or "average": accuracy in [0, 1] (NaN if no
    joints counted)}. Joint names come first, then types, then "average";
    a type named like a joint (head) holds the same value.
  """
  thresholds = np.asarray(result["thresholds"], np.float64)
  matches = np.flatnonzero(np.isclose(thresholds, d))
  if matches.size == 0:
    raise ValueError(f"d = {d} px is not among the evaluated thresholds {thresholds.tolist()}")
  i = int(matches[0])
  out = {name: float(result["per_joint"][i, j]) for j, name in enumerate(result["joint_names"])}
  out.update({name: float(curve[i]) for name, curve in result["per_type"].items()})
  out[AVERAGE] = float(result[AVERAGE][i])
  return out
