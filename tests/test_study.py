"""The studies: points (settings x seeds), power-law fit, one point per job, resumable runs and outputs."""

import csv
import json
import os

import numpy as np
import pytest

from flowpose_jax import cli, jobs, study
from flowpose_jax.errors import FlowposeError
from flowpose_jax.joints import JOINT_NAMES

TINY_CONFIG = "configs/tiny.py"  # seed 0


def test_power_law_fit_recovers_known_parameters():
  n = np.array([100, 200, 400, 800, 1600])
  y = study.power_law(n, 0.9, 3.0, 0.5)
  fit = study.fit_power_law(n, y)
  np.testing.assert_allclose([fit["a"], fit["b"], fit["c"]], [0.9, 3.0, 0.5], rtol=1e-3)
  assert fit["rms"] < 1e-4
  assert study.fit_power_law(n[:2], y[:2]) is None  # too few points for three parameters


def test_power_law_fit_follows_accuracy_that_falls_with_added_data():
  n = np.array([552, 1552, 3552, 10052])
  y = study.power_law(n, 0.30, -4.0, 0.5)  # 47 % falling towards 30 %
  fit = study.fit_power_law(n, y)
  assert fit["b"] < 0
  np.testing.assert_allclose(study.power_law(n, fit["a"], fit["b"], fit["c"]), y, atol=1e-3)
  rising_only = max(abs(y - y.mean()))  # what a flat (rising law's best) fit would leave
  assert fit["rms"] < 0.01 * rising_only


def test_points_cover_both_networks_the_noisy_runs_and_every_seed():
  points = study.data_scaling_points([500, 250], noisy="bbc_pose/extended:train", seeds=[0, 1], subset_seed=7)
  names = [p.name for p in points]
  assert names[:4] == ["heatmap_net-n250-seed0", "heatmap_net-n250-seed1", "heatmap_net-n500-seed0",
                       "heatmap_net-n500-seed1"]
  assert len(points) == 2 * 7 and len(set(names)) == len(names)
  noisy = [p for p in points if p.role == "noisy"]
  assert {(p.model, p.loss) for p in noisy} == {("heatmap_net", "l2"), ("coordinate_net", "l2"),
                                                ("heatmap_net", study.ROBUST_KIND)}
  assert all(p.frames == 500 and p.noisy == "bbc_pose/extended:train" for p in noisy)
  c = points[1].configure(_base_config())
  assert (c.seed, c.dataset.train_subset, c.dataset.train_subset_seed) == (1, 250, 7)
  predicted = study.data_scaling_points([1, 2, 4], models=("heatmap_net",), seeds=[0], predict_size=8)
  assert [(p.name, p.role) for p in predicted][-1] == ("heatmap_net-n8-seed0", "predicted")


def _base_config():
  from flowpose_jax.configs import tiny
  return tiny.get_config()


def test_aggregate_gives_mean_and_sample_std_per_setting():
  def run(setting, seed, acc):
    return {"point": {"setting": setting, "name": study.run_name(setting, seed), "seed": seed, "model": "m"},
            "d": 6.0, "accuracy": {"average": acc}}
  rows = study.aggregate([run("a", 0, 0.5), run("a", 1, 0.7), run("b", 0, 0.4)])
  assert [r["point"]["name"] for r in rows] == ["a", "b"] and rows[0]["point"]["seeds"] == [0, 1]
  assert rows[0]["accuracy"]["average"] == pytest.approx(0.6)
  assert rows[0][study.SPREAD]["average"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
  assert (rows[0]["min"]["average"], rows[0]["max"]["average"]) == (0.5, 0.7)
  assert rows[1]["runs"] == 1 and rows[1][study.SPREAD]["average"] is None


def test_inherit_stage1_takes_data_and_network_shape_and_keeps_derived_fields():
  from flowpose_jax import configuration
  from flowpose_jax.configs import flow as flow_config
  stage1 = _base_config()
  stage1.dataset.train_split = "train[:40]"
  c = study.inherit_stage1(flow_config.get_config("sum"), stage1)
  assert (c.dataset.name, c.dataset.train_split, c.input.size, c.model.width) == (
      "synthetic_signers/tiny", "train[:40]", stage1.input.size, stage1.model.width)
  assert c.model.pooling == "sum" and c.input.spatial_crop == ""  # the flowing stage's own fields stay
  c = configuration.apply_overrides(c, ["--config.flow.n=2", "--config.dataset.train_split=validation"])
  assert (c.model.num_frames, c.dataset.train_split) == (5, "validation")  # overrides come after


# ----------------------------------------------------------------- the command line, training faked


def _fake_accuracy(frames, seed):
  """The faked score: a known power law in the training records, plus 0.1 per seed."""
  return float(study.power_law(frames, 0.8, 0.5, 0.5)) + 0.1 * seed


@pytest.fixture()
def fake_training(monkeypatch):
  """jobs.train records (point folder, seed, subset size, subset seed); ``_fake_accuracy`` scores."""
  trained = []

  def train(config, workdir):
    trained.append((os.path.basename(workdir), config.seed, config.dataset.train_subset,
                    config.dataset.train_subset_seed))

  def score(workdir, config, scoring=study.DEFAULT_SCORING):
    acc = _fake_accuracy(config.dataset.train_subset, config.seed)
    return {"d": 6.0, "accuracy": {"wrists": acc, "elbows": acc, "average": acc}, "scoring": scoring.record()}

  monkeypatch.setattr(jobs, "train", train)
  monkeypatch.setattr(study, "_score", score)
  return trained


def _scaling(out, data_dir, *args):
  return ["study", "data-scaling", "--config", TINY_CONFIG, "--data_dir", data_dir, "--out", str(out),
          "--sizes", "12,24", "--models", "heatmap_net", "--seeds", "2", "--subset_seed", "5", *args]


def _csv(path):
  with open(path) as f:
    return {r["point"]: r for r in csv.DictReader(f)}


def test_list_points_names_every_setting_and_seed(tmp_path, tiny_data_dir, fake_training, capsys):
  assert cli.run(_scaling(tmp_path / "s", tiny_data_dir, "--list_points")) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines == ["0\theatmap_net-n12-seed0\tseed=0", "1\theatmap_net-n12-seed1\tseed=1",
                   "2\theatmap_net-n24-seed0\tseed=0", "3\theatmap_net-n24-seed1\tseed=1"]
  assert fake_training == [] and not (tmp_path / "s").exists()


def test_point_trains_one_point_and_assembles_the_finished_ones(tmp_path, tiny_data_dir, fake_training, capsys):
  out = tmp_path / "s"
  assert cli.run(_scaling(out, tiny_data_dir, "--point", "1")) == 0
  assert fake_training == [("heatmap_net-n12-seed1", 1, 12, 5)]
  assert "assembled 1 of 4 points" in capsys.readouterr().out
  rows = _csv(out / "study.csv")
  assert list(rows) == ["heatmap_net-n12"] and rows["heatmap_net-n12"]["runs"] == "1"
  assert rows["heatmap_net-n12"]["average_std"] == ""  # one seed: no spread
  summary = json.loads((out / "study.json").read_text())
  assert (summary["finished"], summary["total"], summary["subset_seed"]) == (1, 4, 5)
  point = json.loads((out / "heatmap_net-n12-seed1" / study.POINT_FILE).read_text())
  assert point["point"]["subset_seed"] == 5 and point["config"]["dataset"]["train_subset_seed"] == 5
  # The next array task: point 0 (the other seed of the same setting) completes its mean +- std.
  assert cli.run(_scaling(out, tiny_data_dir, "--point", "0")) == 0
  rows = _csv(out / "study.csv")
  assert rows["heatmap_net-n12"]["runs"] == "2" and rows["heatmap_net-n12"]["seeds"] == "0 1"
  accs = [_fake_accuracy(12, 0), _fake_accuracy(12, 1)]
  assert float(rows["heatmap_net-n12"]["average"]) == pytest.approx(100 * np.mean(accs), abs=0.01)
  assert float(rows["heatmap_net-n12"]["average_std"]) == pytest.approx(100 * np.std(accs, ddof=1), abs=0.01)
  # Without --point: only the unfinished points train, then the complete tables.
  assert cli.run(_scaling(out, tiny_data_dir)) == 0
  assert [t[:2] for t in fake_training[2:]] == [("heatmap_net-n24-seed0", 0), ("heatmap_net-n24-seed1", 1)]
  assert "assembled 4 of 4 points" in capsys.readouterr().out
  assert set(_csv(out / "study.csv")) == {"heatmap_net-n12", "heatmap_net-n24"}
  assert os.path.getsize(out / "data_scaling.png") > 0


def test_scoring_another_way_rescores_finished_points_without_retraining(tmp_path, tiny_data_dir, fake_training,
                                                                         monkeypatch):
  """--crop/--passes/--flip_test/--distances: every point is scored that way (a finished point scored
  otherwise is scored again from its workdir, not retrained; one scored so is skipped), and each extra
  distance gets its own CSV and figure."""
  monkeypatch.undo()  # the real study._score, on a faked evaluation
  monkeypatch.setattr(jobs, "train", lambda config, workdir: fake_training.append(os.path.basename(workdir)))
  calls = []

  def evaluate(workdir, *, split, crop, passes, flip_test, out_dir):
    calls.append((os.path.basename(workdir), crop, passes, flip_test))
    del split, out_dir
    frames = int(os.path.basename(workdir).split("-n")[1].split("-")[0])
    d = np.arange(21, dtype=np.float64)  # configs/tiny.py: eval.max_distance 20
    base = (0.5 if crop == "frame" else 1.0) * frames / 100
    curve = np.minimum(base * d / 20, 1.0)  # accuracy grows with d: at d = 10 half of d = 20's
    per_joint = np.repeat(curve[:, None], 7, axis=1)
    result = {"thresholds": d.tolist(), "joint_names": list(JOINT_NAMES),
              "per_joint": per_joint, "per_type": {t: curve for t in ("head", "wrists", "elbows", "shoulders")},
              "average": curve}
    return result, ""

  monkeypatch.setattr(jobs, "evaluate_workdir", evaluate)
  out = tmp_path / "s"
  args = ["--seeds", "1", "--no_predict"]
  assert cli.run(_scaling(out, tiny_data_dir, *args)) == 0
  assert fake_training == ["heatmap_net-n12-seed0", "heatmap_net-n24-seed0"]
  assert calls == [("heatmap_net-n12-seed0", None, None, False), ("heatmap_net-n24-seed0", None, None, False)]
  rows = _csv(out / "study.csv")
  assert float(rows["heatmap_net-n24"]["average"]) == pytest.approx(100 * 0.24 * 6 / 20)  # headline d = 6
  whole = ["--crop", "frame", "--passes", "2", "--flip_test", "--distances", "10,20"]
  assert cli.run(_scaling(out, tiny_data_dir, *args, *whole)) == 0
  assert len(fake_training) == 2  # nothing retrained
  assert calls[2:] == [("heatmap_net-n12-seed0", "frame", 2, True), ("heatmap_net-n24-seed0", "frame", 2, True)]
  assert float(_csv(out / "study.csv")["heatmap_net-n24"]["average"]) == pytest.approx(100 * 0.12 * 6 / 20)
  assert float(_csv(out / "study_d10.csv")["heatmap_net-n24"]["average"]) == pytest.approx(100 * 0.12 * 10 / 20)
  assert float(_csv(out / "study_d20.csv")["heatmap_net-n12"]["wrists"]) == pytest.approx(100 * 0.06)
  for name in ("data_scaling.png", "data_scaling_d10.png", "data_scaling_d20.png"):
    assert os.path.getsize(out / name) > 0, name
  summary = json.loads((out / "study.json").read_text())
  assert summary["scoring"] == {"crop": "frame", "passes": 2, "flip_test": True, "distances": [10.0, 20.0]}
  assert set(summary["at_distances"]) == {"10", "20"}
  point = json.loads((out / "heatmap_net-n12-seed0" / study.POINT_FILE).read_text())
  assert point["scoring"]["crop"] == "frame" and point["accuracy_at"]["10"]["average"] == pytest.approx(0.03)
  assert cli.run(_scaling(out, tiny_data_dir, *args, *whole)) == 0  # scored so already: nothing to do
  assert len(calls) == 4 and len(fake_training) == 2
  with pytest.raises(FlowposeError, match=r"--distances 10,25: .* 1..20 \(config.eval.max_distance\); 25"):
    cli.run(_scaling(out, tiny_data_dir, *args, "--distances", "10,25"))
  with pytest.raises(FlowposeError, match="--passes 2 applies to whole frames: add --crop frame"):
    cli.run(_scaling(out, tiny_data_dir, *args, "--passes", "2"))
  assert len(calls) == 4


def test_point_out_of_range_and_distributed_options_are_refused(tmp_path, tiny_data_dir, fake_training):
  with pytest.raises(FlowposeError, match=r"--point 4: this study has 4 points, 0..3"):
    cli.run(_scaling(tmp_path / "s", tiny_data_dir, "--point", "4"))
  with pytest.raises(FlowposeError, match="need --distributed"):
    cli.run(_scaling(tmp_path / "s", tiny_data_dir, "--num_processes", "2"))
  assert fake_training == []


def test_power_law_prediction_is_fitted_on_the_per_size_means(tmp_path, tiny_data_dir, fake_training):
  summary = study.data_scaling(_tiny(tiny_data_dir), str(tmp_path / "s"), [4, 8, 16], models=("heatmap_net",),
                               seeds=2)
  assert [t[0] for t in fake_training][-2:] == ["heatmap_net-n32-seed0", "heatmap_net-n32-seed1"]
  clean = [r for r in summary["points"] if r["point"]["role"] == "clean"]
  means = [r["accuracy"]["average"] for r in clean]
  np.testing.assert_allclose(means, [_fake_accuracy(n, 0.5) for n in (4, 8, 16)])  # seeds 0 and 1
  fit = summary["fits"]["heatmap_net/average"]
  np.testing.assert_allclose([fit["a"], fit["b"], fit["c"]], [0.85, 0.5, 0.5], rtol=1e-3)
  prediction = summary["prediction"]["heatmap_net"]
  assert prediction["runs"] == 2 and prediction["measured"] == pytest.approx(_fake_accuracy(32, 0.5))
  assert prediction["predicted"] == pytest.approx(_fake_accuracy(32, 0.5), rel=1e-3)


def _tiny(data_dir):
  config = _base_config()
  config.dataset.data_dir = data_dir
  return config


# ----------------------------------------------------------------- real training


def test_study_runs_resumes_and_writes_outputs(tiny_config, tmp_path, monkeypatch):
  config = tiny_config
  config.num_train_steps = 3
  config.eval_every = 0
  config.timelapse_frames = 0
  out = str(tmp_path / "study")
  kwargs = dict(models=("heatmap_net",), noisy="synthetic_signers/tiny_noisy:train[24:]", predict_next=False)
  first = study.data_scaling(config, out, [12, 24], **kwargs)
  assert [r["point"]["name"] for r in first["runs"]] == [
      "heatmap_net-n12-seed0", "heatmap_net-n24-seed0", "heatmap_net-n24-noisy-l2-seed0",
      f"heatmap_net-n24-noisy-{study.ROBUST_KIND}-seed0"]
  cfg = first["runs"][2]["config"]
  assert cfg["dataset"]["train_split"] == "train" and cfg["dataset"]["train_subset"] == 24
  assert cfg["dataset"]["extra_train"].endswith("train[24:]")
  assert first["runs"][3]["config"]["loss"]["kind"] == study.ROBUST_KIND
  with open(os.path.join(out, "study.csv")) as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 4 and all(0 <= float(r["average"]) <= 100 for r in rows)
  assert os.path.getsize(os.path.join(out, "data_scaling.png")) > 0
  # A rerun trains nothing: every point is read back from its point.json.
  monkeypatch.setattr(jobs, "train", lambda *a, **k: pytest.fail("a finished point was trained again"))
  again = study.data_scaling(config, out, [12, 24], **kwargs)
  assert json.dumps(again["runs"]) == json.dumps(first["runs"])
  # A point finished before a config field existed (one of train.loop.ADDED_FIELDS, now at the default
  # that keeps the old behaviour) is reused.
  done = os.path.join(out, first["runs"][0]["point"]["name"], study.POINT_FILE)
  with open(done) as f:
    record = json.load(f)
  del record["config"]["dataset"]["reversed_torsos"]
  with open(done, "w") as f:
    json.dump(record, f)
  assert len(study.data_scaling(config, out, [12, 24], **kwargs)["runs"]) == 4
  # A finished point trained with another config is not silently reused; the error names the change.
  lr = config.optimizer.learning_rate
  config.optimizer.learning_rate = 0.5
  with pytest.raises(FlowposeError, match=rf"trained with another config \(optimizer.learning_rate: {lr!r} -> 0.5"):
    study.data_scaling(config, out, [12, 24], **kwargs)


def test_pooling_study_runs_every_point_on_one_stage(tiny_config, tmp_path, capsys):
  from flowpose_jax.configs import flow as flow_config
  from flowpose_jax.train.loop import train_and_evaluate
  stage1 = tiny_config
  stage1.num_train_steps = 4
  stage1.eval_every = 0
  stage1.timelapse_frames = 0
  wd1 = str(tmp_path / "stage1")
  train_and_evaluate(stage1, wd1, show_progress=False)
  c = study.inherit_stage1(flow_config.get_config("sum"), stage1)
  c.init_from = wd1
  c.batch_size = 8
  c.num_train_steps = 2
  c.eval_every = 0
  c.timelapse_frames = 0
  c.eval.batch_size = 8
  out = str(tmp_path / "pooling")
  # The command line: configs/flow.py takes the single-frame run's data (tiny_data_dir) and shape.
  argv = ["study", "pooling", "--config", "configs/flow.py:sum", f"--config.init_from={wd1}", "--out", out,
          "--config.batch_size=8", "--windows", "0,1", "--poolings", "sum,parametric", "--seeds", "2",
          "--list_points"]
  assert cli.run([*argv, "--flow_sources", "gt,dis_fast"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert len(lines) == 16 and lines[:2] == ["0\tgt-sum-n0-seed0\tseed=0", "1\tgt-sum-n0-seed1\tseed=1"]
  # confidence=fb: the base config is validated against a computed source of the study (configs/flow.py
  # defaults to exact flow, which refuses fb); a study of exact flow alone is refused naming the fix.
  assert cli.run([*argv, "--flow_sources", "gt,dis_fast", "--config.flow.confidence=fb"]) == 0
  assert len(capsys.readouterr().out.splitlines()) == 16
  with pytest.raises(FlowposeError, match="confidence='fb'.*config.flow.confidence='valid'"):
    cli.run([*argv, "--flow_sources", "gt", "--config.flow.confidence=fb"])
  with pytest.raises(FlowposeError, match=r"--flow_sources gt,dis_slow: \['dis_slow'\]"):
    cli.run([*argv, "--flow_sources", "gt,dis_slow"])
  plan = study.pooling_plan(c, out, [0, 1], ["sum", "parametric"], ["gt", "dis_fast"])
  names = [p.name for p in plan.points]
  assert names == [f"{s}-seed0" for s in ("gt-sum-n0", "gt-sum-n1", "gt-parametric-n0", "gt-parametric-n1",
                                          "dis_fast-sum-n0", "dis_fast-sum-n1", "dis_fast-parametric-n0",
                                          "dis_fast-parametric-n1")]
  partial = study.run_study(plan, 3)  # one point, as an array task would
  assert (partial["finished"], partial["total"]) == (1, 8)
  summary = study.run_study(plan)
  assert [r["config"]["model"]["num_frames"] for r in summary["runs"]] == [1, 3, 1, 3] * 2
  # A rerun skips every point, computed flow too (training defaults its flow cache_dir into the config).
  import unittest.mock
  with unittest.mock.patch("flowpose_jax.jobs.train", side_effect=AssertionError("retrained")):
    again = study.pooling_study(c, out, [0, 1], ["sum", "parametric"], ["gt", "dis_fast"])
  assert [r["accuracy"] for r in again["runs"]] == [r["accuracy"] for r in summary["runs"]]
  assert set(summary["baselines"]) == {"single-frame (conv8)", "single-frame + fusion"}
  with open(os.path.join(out, "pooling.csv")) as f:
    assert len(list(csv.DictReader(f))) == 10
  for name in ("pooling_vs_n.png", "pooling_curves.png", "gt-parametric-n1-seed0/pooling_weights.png"):
    assert os.path.getsize(os.path.join(out, name)) > 0, name
  table = open(os.path.join(out, "pooling.md")).read()
  assert "| sum (gt), n = 1 |" in table and "| single-frame + fusion |" in table


def test_sizes_above_the_training_split_name_its_size(tiny_config, tmp_path):
  from flowpose_jax.errors import ConfigError  # pylint: disable=import-outside-toplevel
  with pytest.raises(ConfigError, match=r"has only 48 records; give sizes up to 48"):
    study.data_scaling_plan(tiny_config, str(tmp_path), [10, 10000])


# ----------------------------------------------------------------- added data (--scale_set) x widths

SCALE_SET = "synthetic_signers/tiny:validation"  # 24 records beside tiny's 48 training records


def _scale_config(data_dir):
  config = _tiny(data_dir)  # width 0.125, 40 steps
  config.dataset.extra_train = SCALE_SET
  return config


def test_scale_set_widths_same_compute_plan_points_names_and_steps(tiny_data_dir, tmp_path):
  from flowpose_jax.data import sources
  config = _scale_config(tiny_data_dir)
  plan = study.data_scaling_plan(config, str(tmp_path / "s"), [12, 0, 6], models=("heatmap_net",), seeds=2,
                                 scale_set=SCALE_SET, widths=(0.125, 0.25, 0.5), same_compute=True)
  names = [p.name for p in plan.points]
  widths = ("0.125", "0.25", "0.5")
  settings = [f"heatmap_net-w{w}-n{n}" for w in widths for n in (0, 6, 12)]
  settings += [f"heatmap_net-w{w}-n24" for w in widths]  # 2 x 12: the power law's next size, last
  assert names == [f"{s}-seed{k}" for s in settings for k in (0, 1)]
  assert [p.role for p in plan.points[-6:]] == ["predicted"] * 6
  assert plan.assemble.keywords["base_records"] == 48  # tiny's train split, always in
  steps = {p.width: p.steps for p in plan.points}
  assert steps[0.125] == 40 and steps[0.125] > steps[0.25] > steps[0.5] >= 1  # wider: fewer steps
  flops = {w: study.forward_flops(dict_config(config, w)) for w in steps}
  for w, k in steps.items():  # the same training FLOPs as the config's width, to the step
    assert abs(k * flops[w] - 40 * flops[0.125]) <= flops[w] / 2, (w, k)
  point = next(p for p in plan.points if p.name == "heatmap_net-w0.25-n6-seed1")
  c = point.configure(config)
  assert (c.model.width, c.num_train_steps, c.seed) == (0.25, steps[0.25], 1)
  assert (c.dataset.subset_of, c.dataset.extra_train, c.dataset.train_subset) == (SCALE_SET, SCALE_SET, 6)
  assert c.dataset.train_split == "train" and len(sources.load_train_source(c.dataset)) == 48 + 6
  none = plan.points[0].configure(config)
  assert len(sources.load_train_source(none.dataset)) == 48  # n0: none of the scale set
  assert not sources.overlaps_training(none.dataset, "synthetic_signers/tiny", "validation")
  # Without --same_compute every width keeps the config's steps; without --widths names are as before.
  plain = study.data_scaling_plan(config, str(tmp_path / "s"), [0, 6], models=("heatmap_net",),
                                  scale_set=SCALE_SET, widths=(0.25,))
  assert [(p.name, p.steps, p.configure(config).num_train_steps) for p in plain.points] == [
      ("heatmap_net-w0.25-n0-seed0", 0, 40), ("heatmap_net-w0.25-n6-seed0", 0, 40)]
  assert [p.name for p in study.data_scaling_plan(config, str(tmp_path), [6], scale_set=SCALE_SET).points] == [
      "heatmap_net-n6-seed0", "coordinate_net-n6-seed0"]


def dict_config(config, width):
  c = study.model_config(config, "heatmap_net")
  c.model.width = width
  return c


def test_scale_set_and_widths_refuse_what_cannot_work(tiny_data_dir, tmp_path):
  from flowpose_jax.errors import ConfigError
  config = _scale_config(tiny_data_dir)
  out = str(tmp_path / "s")
  with pytest.raises(ConfigError, match=r"--scale_set synthetic_signers/tiny:train: config.dataset.subset_of="
                                        r"'synthetic_signers/tiny:train' is not an entry of config.dataset.extra_train"):
    study.data_scaling_plan(config, out, [0, 6], scale_set="synthetic_signers/tiny:train")
  with pytest.raises(ConfigError, match=r"--sizes 6,30: synthetic_signers/tiny:validation has only 24 records"):
    study.data_scaling_plan(config, out, [6, 30], scale_set=SCALE_SET)
  with pytest.raises(ConfigError, match=r"--sizes \[0, 6\]: give positive numbers"):
    study.data_scaling_plan(config, out, [0, 6])  # 0 means "none added": only with --scale_set
  with pytest.raises(ConfigError, match="--same_compute sets num_train_steps per --widths or --input_sizes entry"):
    study.data_scaling_plan(config, out, [6], scale_set=SCALE_SET, same_compute=True)
  with pytest.raises(ConfigError, match="--noisy .* with --scale_set"):
    study.data_scaling_plan(config, out, [6], scale_set=SCALE_SET, noisy="synthetic_signers/tiny:test")
  config.init_from = "workdirs/somewhere"
  with pytest.raises(ConfigError, match=r"--widths 0.125,0.25: config.init_from='workdirs/somewhere' fits only "
                                        r"the config's model.width 0.125; train every width from scratch"):
    study.data_scaling_plan(config, out, [6], scale_set=SCALE_SET, widths=(0.125, 0.25))
  assert len(study.data_scaling_plan(config, out, [6], models=("heatmap_net",), scale_set=SCALE_SET,
                                    widths=(0.125,)).points) == 1


def test_input_sizes_start_from_init_from_at_the_same_compute(tiny_data_dir, tiny_workdir, tmp_path):
  """--input_sizes: a setting per input.size, each with the config's training FLOPs (larger: fewer steps),
  every HeatmapNet size starting from init_from (fully convolutional: trained here for 2 steps at 96 px
  from the 64 px tiny run); sizes the pooling cannot take, and coordinate_net from init_from, refused."""
  from flowpose_jax.errors import ConfigError
  from flowpose_jax import jobs as real_jobs
  config = _scale_config(tiny_data_dir)
  config.init_from = tiny_workdir
  plan = study.data_scaling_plan(config, str(tmp_path / "s"), [0, 6], models=("heatmap_net",),
                                 scale_set=SCALE_SET, input_sizes=(64, 96), same_compute=True)
  assert [p.name for p in plan.points] == ["heatmap_net-s64-n0-seed0", "heatmap_net-s64-n6-seed0",
                                           "heatmap_net-s96-n0-seed0", "heatmap_net-s96-n6-seed0"]
  steps = {p.input_size: p.steps for p in plan.points}
  assert steps[64] == 40 and 1 <= steps[96] < 40
  big = study.model_config(config, "heatmap_net")
  big.input.size = 96
  assert abs(steps[96] * study.forward_flops(big) - 40 * study.forward_flops(config)) <= study.forward_flops(big) / 2
  c = plan.points[3].configure(config)
  assert (c.input.size, c.num_train_steps, c.init_from) == (96, steps[96], tiny_workdir)
  c.num_train_steps, c.eval_every, c.timelapse_frames = 2, 0, 0
  real_jobs.train(c, str(tmp_path / "s96"))  # the 64 px run's params fit the 96 px network
  assert os.path.exists(tmp_path / "s96" / "config.json")
  with pytest.raises(ConfigError, match=r"--input_sizes 64,100: give input sides in px that are multiples of 16"):
    study.data_scaling_plan(config, str(tmp_path / "s"), [6], models=("heatmap_net",), scale_set=SCALE_SET,
                            input_sizes=(64, 100))
  with pytest.raises(ConfigError, match="--input_sizes 64,96 with coordinate_net: its dense layers fit only"):
    study.data_scaling_plan(config, str(tmp_path / "s"), [6], scale_set=SCALE_SET, input_sizes=(64, 96))


def test_cli_scale_set_widths_list_points_with_steps(tmp_path, tiny_data_dir, fake_training, capsys):
  common = ["study", "data-scaling", "--config", TINY_CONFIG, "--data_dir", tiny_data_dir,
            f"--config.dataset.extra_train={SCALE_SET}", "--out", str(tmp_path / "s"), "--scale_set", SCALE_SET,
            "--sizes", "0,12", "--seeds", "2", "--list_points"]
  assert cli.run([*common, "--widths", "0.125,0.25", "--same_compute"]) == 0
  lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
  assert [line[:3] for line in lines] == [
      [str(i), f"heatmap_net-w{w}-n{n}-seed{k}", f"seed={k}"]
      for i, (w, n, k) in enumerate((w, n, k) for w in ("0.125", "0.25") for n in (0, 12) for k in (0, 1))]
  steps = [int(line[3].removeprefix("steps=")) for line in lines]
  assert steps[:4] == [40] * 4 and len(set(steps[4:])) == 1 and 1 <= steps[4] < 40
  assert fake_training == [] and not (tmp_path / "s").exists()
  assert cli.run([*common, "--widths", "0.125,0.25"]) == 0  # no --same_compute: the config's steps
  assert all(len(line.split("\t")) == 3 for line in capsys.readouterr().out.splitlines())
  with pytest.raises(FlowposeError, match=r"--widths 0.25,wide: give model.width multipliers"):
    cli.run([*common, "--widths", "0.25,wide"])
  assert cli.run([*common, "--input_sizes", "64,96", "--same_compute"]) == 0
  lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
  assert [line[1] for line in lines[::2]] == [f"heatmap_net-s{v}-n{n}-seed0" for v in (64, 96) for n in (0, 12)]
  assert lines[0][3] == "steps=40" and 1 <= int(lines[-1][3].removeprefix("steps=")) < 40


def test_scale_set_study_fits_n_plus_the_records_always_in(tmp_path, tiny_data_dir, fake_training, monkeypatch):
  base = 48  # tiny's train split, in every point

  def accuracy(config):
    bonus = 0.05 if config.model.width == 0.25 else 0.0
    return float(study.power_law(config.dataset.train_subset + base, 0.8, 0.5, 0.5)) + bonus + 0.1 * config.seed

  def score(workdir, config, scoring=None):
    acc = accuracy(config)
    return {"d": 6.0, "accuracy": {"wrists": acc, "elbows": acc, "average": acc}}

  monkeypatch.setattr(study, "_score", score)
  out = tmp_path / "s"
  summary = study.data_scaling(_scale_config(tiny_data_dir), str(out), [0, 6, 12], models=("heatmap_net",),
                               seeds=2, scale_set=SCALE_SET, widths=(0.125, 0.25))
  assert fake_training[0][:3] == ("heatmap_net-w0.125-n0-seed0", 0, 0)
  assert summary["base_records"] == base and summary["scale_set"] == SCALE_SET
  for width, bonus in (("0.125", 0.0), ("0.25", 0.05)):
    fit = summary["fits"][f"heatmap_net-w{width}/average"]  # through the means at N + 48, N = 0 among them
    means = [study.power_law(n + base, 0.85 + bonus, 0.5, 0.5) for n in (0, 6, 12)]
    fitted = study.power_law(np.array([0, 6, 12]) + base, fit["a"], fit["b"], fit["c"])
    np.testing.assert_allclose(fitted, means, rtol=1e-4)
    prediction = summary["prediction"][f"heatmap_net-w{width}"]
    assert prediction["frames"] == 24
    assert prediction["predicted"] == pytest.approx(prediction["measured"], rel=1e-3)
  rows = _csv(out / "study.csv")
  assert list(rows) == [*(f"heatmap_net-w{w}-n{n}" for w in ("0.125", "0.25") for n in (0, 6, 12)),
                        "heatmap_net-w0.125-n24", "heatmap_net-w0.25-n24"]
  assert (rows["heatmap_net-w0.25-n0"]["scale_set"], rows["heatmap_net-w0.25-n0"]["width"]) == (SCALE_SET, "0.25")
  assert "steps" not in rows["heatmap_net-w0.25-n0"]  # no --same_compute: no point sets its own
  assert os.path.getsize(out / "data_scaling.png") > 0


def test_csv_keeps_the_paper_columns_without_scale_set_or_widths(tmp_path, tiny_data_dir, fake_training):
  assert cli.run(_scaling(tmp_path / "s", tiny_data_dir, "--point", "0")) == 0
  with open(tmp_path / "s" / "study.csv") as f:
    head = next(csv.reader(f))
  assert head[:10] == ["point", "model", "frames", "noisy", "loss", "role", "subset_seed", "seeds", "runs", "d"]
  assert head[10] == "wrists" and not set(study.OPTIONAL_COLUMNS) & set(head)
