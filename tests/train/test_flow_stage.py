"""Staged training: single-frame run -> flowing stage (frozen HeatmapNet) -> evaluation."""

import json
import logging

import jax
import numpy as np
import pytest

from flowpose_jax.configs import flow as flow_config
from flowpose_jax import inference, jobs
from flowpose_jax.errors import FlowposeError
from flowpose_jax.train.loop import train_and_evaluate


def _stage1(config, tmp_path, steps):
  """Trains a tiny single-frame run; returns (config, workdir)."""
  config.num_train_steps = steps
  config.eval_every = 0
  workdir = str(tmp_path / "stage1")
  train_and_evaluate(config, workdir, show_progress=False)
  return config, workdir


def _flow_stage_config(stage1, workdir, pooling, steps):
  """configs/flow.py on top of a tiny stage-1 run, n = 1."""
  c = flow_config.get_config(pooling)
  c.flow.n = 1
  c.dataset, c.input = stage1.dataset, stage1.input
  c.model.width = stage1.model.width
  c.init_from = workdir
  c.batch_size = 8
  c.num_train_steps = steps
  c.eval_every = 0
  return c


def test_flow_stage_starts_from_stage_one_and_keeps_it_frozen(tiny_config, tmp_path, caplog):
  stage1, wd1 = _stage1(tiny_config, tmp_path, steps=6)
  c = _flow_stage_config(stage1, wd1, "parametric", steps=4)
  c.log_every = 2
  c.eval_every = 4
  c.eval.max_examples = 8
  c.timelapse_frames = 2
  wd2 = str(tmp_path / "flow")
  with caplog.at_level(logging.INFO, logger="flowpose"):
    train_and_evaluate(c, wd2, show_progress=False)
  assert f"weights from {wd1}, step 6 (the flowing model's single-frame part)" in caplog.text

  p1 = inference.load(wd1).params
  p2 = inference.load(wd2).params
  same = jax.tree.map(lambda a, b: bool(np.array_equal(a, b)), p1, p2["spatial"])
  assert all(jax.tree.leaves(same)), "the frozen HeatmapNet changed"
  kernel = np.asarray(p2["pool"]["kernel"])
  assert kernel.shape == (3, 7) and not np.allclose(kernel, 1 / 3)

  result, table = jobs.evaluate_workdir(wd2, split="test", out_dir=str(tmp_path / "eval"))
  assert "right_wrist" in table and result["counts"].sum() > 0

  # On a crop-trained single-frame run, prediction takes its passes, but
  # evaluation still scores the pooled windows (one pass), as it did here.
  with open(f"{wd2}/config.json") as f:
    saved = json.load(f)
  saved["input"]["spatial_crop"] = "joints"
  with open(f"{wd2}/config.json", "w") as f:
    json.dump(saved, f)
  assert inference.load(wd2).default_passes == inference.CROP_PASSES
  result_crop, _ = jobs.evaluate_workdir(wd2, split="test", out_dir=str(tmp_path / "eval_crop"))
  with open(tmp_path / "eval_crop" / "results_test.json") as f:
    assert json.load(f)["meta"]["crop"] == "frame"
  np.testing.assert_array_equal(result_crop["hits"], result["hits"])
  with pytest.raises(FlowposeError, match="pooled windows"):
    jobs.evaluate_workdir(wd2, split="test", out_dir=str(tmp_path / "eval_3"), passes=3)

  # video inference: flowing maps per frame; causal uses only the past, so the
  # last frame (whose future is clipped anyway) matches the two-sided result.
  model = inference.load(wd2)
  from flowpose_jax.data.sources import load_source
  src = load_source(c.dataset.name, "test", c.dataset.data_dir)
  frames = np.stack([src[i]["image"] for i in range(5)])
  timings = {}
  two_sided = model.flowing_heatmaps(frames, timings=timings)
  causal = model.flowing_heatmaps(frames, causal=True)
  assert two_sided.shape == (5, 16, 16, 7) and np.isfinite(two_sided).all()
  np.testing.assert_allclose(causal[-1], two_sided[-1], atol=1e-6)
  assert not np.allclose(causal[0], two_sided[0])
  assert set(timings) == {"preprocess_s", "heatmapnet_s", "flow_s", "warp_pool_s", "shots_s"}
  joints, conf = model.joints(frames, flow=True)
  assert joints.shape == (5, 7, 2) and conf.shape == (5, 7)

  # predict --flow on an edited sequence (the clip, then a cut to a recoloured view): the JSON gives
  # each frame's shot, and --flow_no_shot_cuts keeps one.
  from flowpose_jax import media
  edited = tmp_path / "edited"
  edited.mkdir()
  cutaway = (frames * np.array([1.0, 0.6, 0.25], np.float32)).astype(np.uint8)
  for i, frame in enumerate(list(frames) + list(cutaway)):
    media.write_image(str(edited / f"{i:03d}.png"), frame)
  for shots, expected in (("detect", [0] * 5 + [1] * 5), ("none", [0] * 10)):
    out = tmp_path / f"pred_{shots}"
    written, skipped, _ = jobs.predict_paths(wd2, [str(edited)], str(out), flow=True, shots=shots)
    assert not skipped
    with open(out / "edited.json") as f:
      assert [r["shot"] for r in json.load(f)["frames"]] == expected, shots


def test_computed_flow_is_cached_beside_the_data(tiny_config, tmp_path):
  """A data-dependent pooling trained on computed flow with forward-backward confidence: its windows
  (flow + confidence channel) are cached beside the data under a key that names the confidence."""
  import os
  stage1, wd1 = _stage1(tiny_config, tmp_path, steps=1)
  c = _flow_stage_config(stage1, wd1, "data_dependent", steps=2)
  c.flow.source = "dis_fast"
  c.flow.confidence = "fb"
  c.timelapse_frames = 0
  train_and_evaluate(c, str(tmp_path / "flow"), show_progress=False)
  cache = os.path.join(stage1.dataset.data_dir, "flow_cache")  # shared with other tests' flow keys
  keys = {d: json.load(open(os.path.join(d, "config.json"))) for d, _, fs in os.walk(cache) if "config.json" in fs}
  fb = [d for d, k in keys.items() if k.get("confidence") == "fb" and k.get("method") == "dis_fast"]
  assert len(fb) == 1, keys
  files = [os.path.join(d, f) for d, _, fs in os.walk(fb[0]) for f in fs if f.endswith(".npz")]
  assert len(files) >= 16  # one per window centre seen (2 steps x 8)
  for name in files:
    with np.load(name) as cached:
      assert cached["flow"].shape[-1] == 3  # dx, dy, confidence


def test_precomputed_maps_train_and_score_the_same_model_as_the_network_path(tiny_config, tmp_path):
  """config.flow.maps='precomputed' (maps once per record) = running the frozen HeatmapNet on every
  window frame at every step: with augmentation off both see the same windows, so the same params and
  scores follow, to float summation order."""
  stage1, wd1 = _stage1(tiny_config, tmp_path, steps=6)
  runs = {}
  for maps in ("network", "precomputed"):
    c = _flow_stage_config(stage1, wd1, "parametric", steps=4)
    c.flow.maps = maps
    c.augment.enabled = False
    c.eval_every = 4
    c.eval.max_examples = 8
    c.timelapse_frames = 2
    wd = str(tmp_path / maps)
    train_and_evaluate(c, wd, show_progress=False)
    result, _ = jobs.evaluate_workdir(wd, split="test", out_dir=str(tmp_path / f"eval_{maps}"))
    runs[maps] = inference.load(wd).params["pool"], result
  (p_net, r_net), (p_pre, r_pre) = runs["network"], runs["precomputed"]
  np.testing.assert_allclose(np.asarray(p_pre["kernel"]), np.asarray(p_net["kernel"]), atol=1e-5)
  assert not np.allclose(np.asarray(p_pre["kernel"]), 1 / 3)  # it trained
  np.testing.assert_allclose(r_pre["predictions"], r_net["predictions"], atol=1e-2)
  np.testing.assert_array_equal(r_pre["counts"], r_net["counts"])


def test_precomputed_maps_refuse_a_heatmapnet_that_trains(tiny_config, tmp_path):
  import pytest
  from flowpose_jax.errors import ConfigError
  stage1, wd1 = _stage1(tiny_config, tmp_path, steps=1)
  c = _flow_stage_config(stage1, wd1, "sum", steps=1)
  c.flow.maps = "precomputed"
  c.model.freeze = ()
  with pytest.raises(ConfigError, match="must stay frozen"):
    train_and_evaluate(c, str(tmp_path / "a"), show_progress=False)
  c.model.freeze = ("spatial",)
  c.loss.fusion_weight = 1.0
  with pytest.raises(ConfigError, match="config.loss.fusion_weight"):
    train_and_evaluate(c, str(tmp_path / "b"), show_progress=False)
  assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_flow_stage_keeps_its_single_frame_runs_crop_for_whole_frame_passes(tiny_config, tmp_path):
  """configs/flow.py trains on whole frames, but a stage on a crop-trained run
  predicts whole frames in that run's passes, with that run's person-box margin."""
  from flowpose_jax import workdir as workdir_lib
  from flowpose_jax.errors import ConfigError
  from flowpose_jax.train.loop import inherit_spatial_crop
  from flowpose_jax.train.validation import validate_config

  def stage(crop, margin=0.3, spatial_crop=""):
    single = tiny_config.copy_and_resolve_references()
    single.input.crop, single.input.joints_margin = crop, margin
    init = str(tmp_path / f"init_{crop}")
    workdir_lib.write_config(workdir_lib.ensure(init), single)
    c = flow_config.get_config()
    c.init_from, c.input.spatial_crop = init, spatial_crop
    inherit_spatial_crop(c)
    graphdef, params = workdir_lib.make_model(c)
    return c, inference.Predictor(c, graphdef, params)

  c, predictor = stage("joints")
  assert (c.input.spatial_crop, c.input.joints_margin, c.input.crop) == ("joints", 0.3, "frame")
  assert predictor.default_passes == inference.CROP_PASSES
  c, predictor = stage("frame")
  assert (c.input.spatial_crop, c.input.joints_margin) == ("frame", 0.4)  # margin of a frame run not taken
  assert predictor.default_passes == 1
  c, predictor = stage("joints", spatial_crop="frame")  # set by the user: kept
  assert c.input.spatial_crop == "frame" and predictor.default_passes == 1

  c.input.spatial_crop, c.batch_size = "person", 8
  with pytest.raises(ConfigError, match="input.spatial_crop"):
    validate_config(c)
