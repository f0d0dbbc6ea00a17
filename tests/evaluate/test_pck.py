"""PCK: hand-computed cases, masks, monotonicity, batching, purity."""

import numpy as np
import pytest

from flowpose_jax.evaluate import pck
from flowpose_jax.joints import JOINT_NAMES, JOINT_TYPES, MISSING_SENTINEL

J = len(JOINT_NAMES)


def _hand_case():
  """Two frames; errors are 3-4-5 triangles so distances are exact."""
  gt = np.zeros((2, J, 2))
  gt[1] += 10.0
  offsets = np.array([[0, 0], [3, 4], [6, 8], [0, 7], [1, 0], [0, 2.5], [30, 40]], float)
  pred = gt.copy()
  pred[0] += offsets          # errors frame 0: 0, 5, 10, 7, 1, 2.5, 50
  pred[1] += offsets[::-1]    # errors frame 1: 50, 2.5, 1, 7, 10, 5, 0
  visible = np.ones((2, J), bool)
  return pred, gt, visible


def test_joint_errors_hand_computed():
  pred, gt, visible = _hand_case()
  err = pck.joint_errors(pred, gt, visible)
  np.testing.assert_allclose(err, [[0, 5, 10, 7, 1, 2.5, 50], [50, 2.5, 1, 7, 10, 5, 0]])


def test_hits_and_counts_hand_computed():
  pred, gt, visible = _hand_case()
  hits, counts = pck.hits_and_counts(pred, gt, visible, [0, 5, 6.99, 7])
  np.testing.assert_array_equal(counts, [2] * J)
  np.testing.assert_array_equal(hits, [
      [1, 0, 0, 0, 0, 0, 1],   # d = 0: exact hits only
      [1, 2, 1, 0, 1, 2, 1],   # d = 5: error == d counts as correct
      [1, 2, 1, 0, 1, 2, 1],   # d = 6.99
      [1, 2, 1, 2, 1, 2, 1],   # d = 7
  ])
  assert hits.dtype == np.int64 and counts.dtype == np.int64


def test_masked_and_missing_joints_excluded():
  pred, gt, visible = _hand_case()
  visible[0, 1] = False            # invisible: error 5 not counted
  gt[1, 2] = np.nan                # NaN gt
  gt[0, 3, 0] = MISSING_SENTINEL   # BBC Pose missing code on one coordinate
  gt[1, 4] = np.inf
  err = pck.joint_errors(pred, gt, visible)
  assert np.isnan(err[0, 1]) and np.isnan(err[1, 2]) and np.isnan(err[0, 3]) and np.isnan(err[1, 4])
  hits, counts = pck.hits_and_counts(pred, gt, visible, [100.0])
  np.testing.assert_array_equal(counts, [2, 1, 1, 1, 1, 2, 2])
  np.testing.assert_array_equal(hits[0], counts)  # every counted joint within 100 px


def test_nonfinite_prediction_is_a_miss_not_excluded():
  pred, gt, visible = _hand_case()
  pred[0, 0] = np.nan
  assert np.isinf(pck.joint_errors(pred, gt, visible)[0, 0])
  hits, counts = pck.hits_and_counts(pred, gt, visible, [1e6])
  assert counts[0] == 2 and hits[0, 0] == 1


def test_monotone_in_d():
  rng = np.random.default_rng(0)
  gt = rng.uniform(0, 100, (40, J, 2))
  pred = gt + rng.normal(0, 5, gt.shape)
  visible = rng.random((40, J)) > 0.2
  thresholds = np.linspace(0, 30, 31)
  hits, counts = pck.hits_and_counts(pred, gt, visible, thresholds)
  assert np.all(np.diff(hits, axis=0) >= 0)
  assert np.all(hits <= counts)
  np.testing.assert_array_equal(hits[-1], counts)  # 30 px = 6 sigma: all hit


def test_batched_equals_one_shot_and_inputs_not_mutated():
  rng = np.random.default_rng(1)
  gt = rng.uniform(0, 100, (23, J, 2))
  gt[3, 2] = np.nan
  pred = gt + rng.normal(0, 4, gt.shape)
  visible = rng.random((23, J)) > 0.3
  copies = [a.copy() for a in (pred, gt, visible)]
  thresholds = np.arange(21)
  one = pck.PCKAccumulator(thresholds)
  one.update(pred, gt, visible)
  batched = pck.PCKAccumulator(thresholds)
  for start in range(0, 23, 5):
    batched.update(pred[start:start + 5], gt[start:start + 5], visible[start:start + 5])
  a, b = one.result(), batched.result()
  np.testing.assert_array_equal(a["hits"], b["hits"])
  np.testing.assert_array_equal(a["counts"], b["counts"])
  np.testing.assert_array_equal(a["per_joint"], b["per_joint"])
  np.testing.assert_array_equal(a["average"], b["average"])
  for original, copy in zip((pred, gt, visible), copies):
    np.testing.assert_array_equal(original, copy)


def test_pooled_types_equal_hand_pooled_counts():
  rng = np.random.default_rng(2)
  gt = rng.uniform(0, 100, (30, J, 2))
  pred = gt + rng.normal(0, 6, gt.shape)
  visible = rng.random((30, J)) > 0.25
  acc = pck.PCKAccumulator([6.0])
  acc.update(pred, gt, visible)
  result = acc.result()
  err = np.linalg.norm(pred - gt, axis=-1)
  for name, idx in JOINT_TYPES.items():
    mask = visible[:, list(idx)]
    hand = np.sum((err[:, list(idx)] <= 6.0) & mask) / np.sum(mask)
    assert result["type_counts"][name] == np.sum(mask)
    np.testing.assert_allclose(result["per_type"][name], [hand])
  np.testing.assert_allclose(result["average"], [np.sum((err <= 6.0) & visible) / np.sum(visible)])
  # L and R pooled, not averaged: wrists curve weights each side by its count.
  headline = pck.accuracy_at(result, 6)
  assert set(JOINT_NAMES) | set(JOINT_TYPES) | {"average"} == set(headline)
  assert headline["head"] == result["per_type"]["head"][0]


def test_zero_count_is_nan_not_zero():
  acc = pck.PCKAccumulator([1.0, 2.0])
  gt = np.zeros((2, J, 2))
  visible = np.ones((2, J), bool)
  visible[:, 1:3] = False  # no wrists at all
  with np.errstate(all="raise"):
    acc.update(gt, gt, visible)
    result = acc.result()
  assert np.all(np.isnan(result["per_joint"][:, 1:3]))
  assert np.all(np.isnan(result["per_type"]["wrists"]))
  np.testing.assert_array_equal(result["per_joint"][:, 0], [1.0, 1.0])
  empty = pck.PCKAccumulator([1.0]).result()
  assert np.all(np.isnan(empty["average"]))


def test_bad_inputs_raise():
  gt = np.zeros((2, J, 2))
  with pytest.raises(ValueError, match="pred shape"):
    pck.joint_errors(gt[:1], gt, np.ones((2, J), bool))
  with pytest.raises(ValueError, match="visible"):
    pck.joint_errors(gt, gt, np.ones((2, J + 1), bool))
  with pytest.raises(ValueError, match="thresholds"):
    pck.PCKAccumulator([-1.0])
  acc = pck.PCKAccumulator([6.0])
  acc.update(gt, gt, np.ones((2, J), bool))
  with pytest.raises(ValueError, match="not among"):
    pck.accuracy_at(acc.result(), 5.0)


def test_bootstrap_difference_is_paired_over_frames_and_runs():
  """Same errors: a zero difference with a zero-width interval. B fixing one joint on 5 of 40 frames where A
  and B otherwise agree: +12.5 points on that joint with an interval above zero (paired: the frames both
  get right or wrong cancel). Two runs gaining 0 and 20 points: +10 with an interval spanning the runs."""
  rng = np.random.default_rng(0)
  a = rng.uniform(0, 20, (40, 7))
  a[3, 2] = np.nan  # a masked joint, masked in both
  same = pck.bootstrap_difference(a, a.copy(), 10.0, draws=300)
  for row in same["rows"].values():
    assert row["difference"] == 0 and row["low"] == row["high"] == 0 and row["includes_zero"]
  b = a.copy()
  fixed = np.flatnonzero(a[:, 1] > 10)[:5]
  b[fixed, 1] = 1.0
  got = pck.bootstrap_difference(a, b, 10.0, draws=500)
  wrist = got["rows"]["right_wrist"]
  assert wrist["difference"] == pytest.approx(12.5) and wrist["low"] > 0 and not wrist["includes_zero"]
  assert got["rows"]["left_wrist"]["difference"] == 0
  assert got["rows"]["wrists"]["difference"] == pytest.approx(100 * 5 / 79)  # left wrist: one masked
  assert got["rows"][pck.AVERAGE]["difference"] == pytest.approx(100 * 5 / (40 * 7 - 1))
  assert (got["runs"], got["frames"]) == (1, 40)
  runs_b = np.stack([a, b])  # run 0 gains nothing, run 1 +12.5 on the right wrist
  both = pck.bootstrap_difference(np.stack([a, a]), runs_b, 10.0, draws=500)["rows"]["right_wrist"]
  assert both["difference"] == pytest.approx(12.5 / 2)
  assert both["low"] <= 0 + 1e-9 and both["high"] >= 12.5 - 1e-9 and both["includes_zero"]
  with pytest.raises(ValueError, match="mask different joints"):
    pck.bootstrap_difference(a, np.where(np.isnan(a), 1.0, a), 10.0)
