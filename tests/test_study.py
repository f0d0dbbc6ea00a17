"""The data-scaling study: points, power-law fit, resumable runs and outputs."""

import csv
import json
import os

import numpy as np
import pytest

from flowpose_jax import jobs, study
from flowpose_jax.errors import FlowposeError


def test_power_law_fit_recovers_known_parameters():
  n = np.array([100, 200, 400, 800, 1600])
  y = study.power_law(n, 0.9, 3.0, 0.5)
  fit = study.fit_power_law(n, y)
  np.testing.assert_allclose([fit["a"], fit["b"], fit["c"]], [0.9, 3.0, 0.5], rtol=1e-3)
  assert study.fit_power_law(n[:2], y[:2]) is None  # too few points for three parameters


def test_points_cover_both_networks_and_the_noisy_runs():
  points = study.data_scaling_points([500, 250], noisy="bbc_pose/extended:train")
  names = [p.name for p in points]
  assert names[:4] == ["heatmap_net-n250", "heatmap_net-n500", "coordinate_net-n250", "coordinate_net-n500"]
  noisy = [p for p in points if p.role == "noisy"]
  assert {(p.model, p.loss) for p in noisy} == {("heatmap_net", "l2"), ("coordinate_net", "l2"),
                                                ("heatmap_net", study.ROBUST_KIND)}
  assert all(p.frames == 500 and p.noisy == "bbc_pose/extended:train" for p in noisy)


def test_study_runs_resumes_and_writes_outputs(tiny_config, tmp_path, monkeypatch):
  config = tiny_config
  config.num_train_steps = 3
  config.eval_every = 0
  config.timelapse_frames = 0
  out = str(tmp_path / "study")
  kwargs = dict(models=("heatmap_net",), noisy="synthetic_signers/tiny_noisy:train[24:]", predict_next=False)
  first = study.data_scaling(config, out, [12, 24], **kwargs)
  assert [r["point"]["name"] for r in first["points"]] == [
      "heatmap_net-n12", "heatmap_net-n24", "heatmap_net-n24-noisy-l2", f"heatmap_net-n24-noisy-{study.ROBUST_KIND}"]
  cfg = first["points"][2]["config"]
  assert cfg["dataset"]["train_split"] == "train[:24]" and cfg["dataset"]["extra_train"].endswith("train[24:]")
  assert first["points"][3]["config"]["loss"]["kind"] == study.ROBUST_KIND
  with open(os.path.join(out, "study.csv")) as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 4 and all(0 <= float(r["average"]) <= 100 for r in rows)
  assert os.path.getsize(os.path.join(out, "data_scaling.png")) > 0
  # A rerun trains nothing: every point is read back from its point.json.
  monkeypatch.setattr(jobs, "train", lambda *a, **k: pytest.fail("a finished point was trained again"))
  again = study.data_scaling(config, out, [12, 24], **kwargs)
  assert json.dumps(again["points"]) == json.dumps(first["points"])
  # A finished point trained with another config is not silently reused.
  config.optimizer.learning_rate = 0.5
  with pytest.raises(FlowposeError, match="trained with another config"):
    study.data_scaling(config, out, [12, 24], **kwargs)


def test_pooling_study_runs_every_point_on_one_stage(tiny_config, tmp_path):
  from configs import flow as flow_config
  from flowpose_jax.train.loop import train_and_evaluate
  stage1 = tiny_config
  stage1.num_train_steps = 4
  stage1.eval_every = 0
  stage1.timelapse_frames = 0
  wd1 = str(tmp_path / "stage1")
  train_and_evaluate(stage1, wd1, show_progress=False)
  c = flow_config.get_config("sum")
  c.dataset, c.input = stage1.dataset, stage1.input
  c.model.width = stage1.model.width
  c.init_from = wd1
  c.batch_size = 8
  c.num_train_steps = 2
  c.eval_every = 0
  c.timelapse_frames = 0
  c.eval.batch_size = 8
  out = str(tmp_path / "pooling")
  summary = study.pooling_study(c, out, [0, 1], ["sum", "parametric"], ["gt", "dis_fast"])
  names = [r["point"]["name"] for r in summary["points"]]
  assert names == ["gt-sum-n0", "gt-sum-n1", "gt-parametric-n0", "gt-parametric-n1",
                   "dis_fast-sum-n0", "dis_fast-sum-n1", "dis_fast-parametric-n0", "dis_fast-parametric-n1"]
  assert [r["config"]["model"]["num_frames"] for r in summary["points"]] == [1, 3, 1, 3] * 2
  # A rerun skips every point, computed flow too (training defaults its flow cache_dir into the config).
  import unittest.mock
  with unittest.mock.patch("flowpose_jax.jobs.train", side_effect=AssertionError("retrained")):
    again = study.pooling_study(c, out, [0, 1], ["sum", "parametric"], ["gt", "dis_fast"])
  assert [r["accuracy"] for r in again["points"]] == [r["accuracy"] for r in summary["points"]]
  assert set(summary["baselines"]) == {"single-frame (conv8)", "single-frame + fusion"}
  with open(os.path.join(out, "pooling.csv")) as f:
    assert len(list(csv.DictReader(f))) == 10
  assert os.path.getsize(os.path.join(out, "pooling_vs_n.png")) > 0
