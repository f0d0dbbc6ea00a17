"""``flowpose evaluate``'s production path (``jobs.evaluate_workdir``) scores with each dataset's protocol.

The network is replaced by the records' own target maps shifted by a known
offset, so every error is known: 8 frame px for every joint.
"""

import json
import os

import numpy as np
import pytest

from flowpose_jax import inference, jobs
from flowpose_jax.evaluate import protocols

SHIFT = 2  # heatmap px = 8 input px = 8 frame px (64x64 frames, input 64, stride 4)
ERROR_PX = 8.0


@pytest.fixture()
def workdir(tiny_workdir):
  return tiny_workdir


def _records(n, torso=None, seed=0):
  rng = np.random.default_rng(seed)
  records = []
  for i in range(n):
    joints = np.stack([rng.uniform(6, 40, 7), rng.uniform(6, 58, 7)], -1).astype(np.float32)
    rec = {"image": rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), "joints": joints,
           "visible": np.ones(7, bool), "video_id": 0, "frame_index": i}
    if torso is not None:  # FLIC's full joint set: lsho at the origin, rhip `torso` px below
      full = np.full((29, 2), np.nan, np.float32)
      full[protocols.FLIC_LSHO] = (0.0, 0.0)
      full[protocols.FLIC_RHIP] = (0.0, torso)
      rec["joints_full"] = full
    records.append(rec)
  return records


@pytest.fixture()
def shifted_model(monkeypatch):
  """Every dataset name serves ``records``; the predictor returns targets moved SHIFT px right."""
  served = {}
  monkeypatch.setattr(jobs, "ensure_dataset", lambda name, data_dir: None)
  monkeypatch.setattr(jobs, "load_source", lambda name, split, data_dir: served["records"])
  monkeypatch.setattr(inference.Predictor, "predict_batch",
                      lambda self, batch, output=None: np.roll(batch["targets"], SHIFT, axis=2))
  return served


def _at(result, d):
  i = int(np.flatnonzero(np.isclose(result["thresholds"], d))[0])
  return float(result["average"][i])


def test_bbc_pose_is_scored_at_half_resolution(workdir, shifted_model, tmp_path):
  shifted_model["records"] = _records(5)
  result, table = jobs.evaluate_workdir(workdir, dataset="bbc_pose/original", out_dir=str(tmp_path))
  pred = result["predictions"]
  gt = np.stack([r["joints"] for r in shifted_model["records"]])
  np.testing.assert_allclose(np.linalg.norm(pred - gt, axis=-1), ERROR_PX, atol=0.1)
  # 8 frame px = 4 px at half resolution: all correct at d = 6, none at d = 3.
  assert _at(result, 6.0) == 1.0 and _at(result, 3.0) == 0.0
  saved = json.load(open(os.path.join(tmp_path, "results_test.json")))
  assert saved["meta"]["protocol"]["scale"] == 0.5 and saved["meta"]["dataset"] == "bbc_pose/original"
  assert "px at scale 0.5" in open(os.path.join(tmp_path, "results_test.md")).read()
  assert "100.0" in table


def test_frame_px_for_a_dataset_without_protocol(workdir, shifted_model, tmp_path):
  shifted_model["records"] = _records(5)
  result, _ = jobs.evaluate_workdir(workdir, dataset="my_own_set", out_dir=str(tmp_path))
  assert _at(result, 7.0) == 0.0 and _at(result, 9.0) == 1.0  # 8 px +- sub-pixel decoding


def test_flic_is_scored_in_percent_of_the_torso(workdir, shifted_model, tmp_path):
  shifted_model["records"] = _records(4, torso=45.0)
  result, _ = jobs.evaluate_workdir(workdir, dataset="flic/small", out_dir=str(tmp_path))
  # 8 px of a 45 px torso = 17.8 %: correct at PCK 0.2 only (8 raw px would pass at 10).
  assert [_at(result, d) for d in (5.0, 10.0, 15.0, 20.0)] == [0.0, 0.0, 0.0, 1.0]
  assert "% of the torso size" in open(os.path.join(tmp_path, "results_test.md")).read()
