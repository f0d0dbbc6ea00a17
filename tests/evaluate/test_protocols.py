"""Evaluation protocols: hand-computed cases."""

import dataclasses

import numpy as np
import pytest

from flowpose_jax.evaluate import protocols as P
from flowpose_jax.evaluate.pck import hits_from_errors


def _correct(errors, protocol):
  """[N, J] errors -> [D, J] hits at the protocol's distances (the evaluator's thresholding)."""
  return hits_from_errors(errors, protocol.distances)[0]


def _one(pred_xy, gt_xy, visible=True):
  return (np.array([[pred_xy]], float), np.array([[gt_xy]], float), np.array([[visible]]))


def test_bbc_pose_is_half_resolution_d6():
  p = P.PROTOCOLS["bbc_pose"]
  assert p.distances == (6.0,) and p.scale == 0.5 and p.headline == 6.0
  # 11.9 px off in the frame = 5.95 px at half resolution -> correct; 12.1 px -> wrong.
  for off, ok in ((11.9, True), (12.1, False)):
    err = P.apply_protocol(*_one((100.0 + off, 50.0), (100.0, 50.0)), p)
    np.testing.assert_allclose(err, [[off / 2]])
    assert bool(_correct(err, p)[0, 0]) == ok
  full = dataclasses.replace(p, scale=1.0)
  assert not _correct(P.apply_protocol(*_one((107.0, 50.0), (100.0, 50.0)), full), full)[0, 0]


def test_matches_the_toolkit_mapping_in_one_based_coordinates():
  rng = np.random.default_rng(0)
  gt0 = rng.uniform(0, 600, (5, 7, 2))
  pred0 = gt0 + rng.normal(0, 8, gt0.shape)
  half = lambda p1: 0.5 * (p1 - 1) + 1  # the script's mapping, on 1-based coordinates
  ref = np.linalg.norm(half(pred0 + 1) - half(gt0 + 1), axis=-1)
  err = P.apply_protocol(pred0, gt0, np.ones((5, 7), bool), P.PROTOCOLS["bbc_pose"])
  np.testing.assert_allclose(err, ref, atol=1e-9)


def test_masking_and_non_finite_prediction():
  p = P.PROTOCOLS["bbc_pose"]
  pred = np.array([[[1.0, 1.0], [np.nan, 0.0], [5.0, 5.0]]])
  gt = np.array([[[1.0, 1.0], [2.0, 2.0], [np.nan, np.nan]]])
  vis = np.array([[False, True, True]])
  err = P.apply_protocol(pred, gt, vis, p)
  assert np.isnan(err[0, 0]) and np.isinf(err[0, 1]) and np.isnan(err[0, 2])
  assert not _correct(err, p).any()
  assert np.isnan(gt[0, 2]).all() and np.isnan(pred[0, 1, 0])  # inputs untouched


def test_flic_normalised_by_torso():
  p = P.PROTOCOLS["flic"]
  assert p.normalised and p.distances == (5.0, 10.0, 15.0, 20.0) and p.unit == "% of the torso size"
  norm = P.torso_size(np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[30.0, 40.0], [0.0, 0.0]]))
  np.testing.assert_allclose(norm, [50.0, 0.0])
  pred = np.array([[[6.0, 0.0]], [[1.0, 0.0]]])
  gt = np.zeros((2, 1, 2))
  err = P.apply_protocol(pred, gt, np.ones((2, 1), bool), p, norm=norm)
  np.testing.assert_allclose(err[0], [12.0])  # 6 px of a 50 px torso = 12 %
  assert np.isnan(err[1, 0])  # zero torso: not counted
  np.testing.assert_array_equal(_correct(err[:1], p)[:, 0], [0, 0, 1, 1])
  with pytest.raises(ValueError, match="norm"):
    P.apply_protocol(pred, gt, np.ones((2, 1), bool), p)
  with pytest.raises(ValueError, match="norm"):
    P.apply_protocol(pred, gt, np.ones((2, 1), bool), P.PROTOCOLS["bbc_pose"], norm=norm)


def test_other_protocols_and_lookup():
  assert P.PROTOCOLS["poses_in_the_wild"].headline == 8.0 and 10.0 in P.PROTOCOLS["poses_in_the_wild"].distances
  assert P.PROTOCOLS["chalearn"].headline == 6.0
  assert P.get_protocol("bbc_pose/extended_crops256") is P.PROTOCOLS["bbc_pose"]
  with pytest.raises(KeyError, match="known"):
    P.get_protocol("mpii")
  for p in P.PROTOCOLS.values():
    assert p.note and p.scale > 0 and list(p.distances)


def test_flic_norms_from_full_joints():
  from flowpose_jax.evaluate import protocols as protocols_lib
  full = np.full((29, 2), np.nan, np.float32)
  full[protocols_lib.FLIC_LSHO] = (10.0, 20.0)
  full[protocols_lib.FLIC_RHIP] = (13.0, 24.0)
  norms = protocols_lib.example_norms("flic/small", [{"joints_full": full}] * 2)
  np.testing.assert_allclose(norms, [5.0, 5.0])


def test_lsp_pck_at_20_percent_of_the_hip_to_shoulder_torso():
  from flowpose_jax.data_builders.lsp import lsp  # pylint: disable=import-outside-toplevel
  from flowpose_jax.evaluate import protocols as protocols_lib  # pylint: disable=import-outside-toplevel
  full = np.full((14, 2), np.nan, np.float32)
  full[lsp.LSP_JOINT_NAMES.index("left_shoulder")] = (10.0, 20.0)
  full[lsp.LSP_JOINT_NAMES.index("right_hip")] = (40.0, 60.0)  # torso 50 px
  norms = protocols_lib.example_norms("lsp/extended", [{"joints_full": full}])
  np.testing.assert_allclose(norms, [50.0])
  p = P.for_dataset("lsp/original", default_distance=6.0)
  assert p.normalised and p.headline == 20.0
  gt = np.zeros((1, 7, 2))
  pred = gt + [[[9.0, 0.0]] * 6 + [[11.0, 0.0]]]  # 18 % and 22 % of the torso
  err = P.apply_protocol(pred, gt, np.ones((1, 7), bool), p, norm=norms)
  assert list(err[0] <= p.headline) == [True] * 6 + [False]
