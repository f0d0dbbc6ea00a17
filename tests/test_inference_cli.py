"""Inference API and the CLI on a tiny trained workdir."""

import json
import os

import cv2
import numpy as np
import pytest

import flowpose_jax
from flowpose_jax import cli, heatmaps, jobs
from flowpose_jax.errors import InputError
from flowpose_jax.train.loop import train_and_evaluate


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_data_dir):
  from configs import tiny
  config = tiny.get_config()
  config.dataset.data_dir = tiny_data_dir
  config.num_train_steps = 20
  config.eval_every = 0
  wd = str(tmp_path_factory.mktemp("wd"))
  train_and_evaluate(config, wd, show_progress=False)
  return wd


def test_load_heatmaps_and_joints_any_frame_size(workdir):
  model = flowpose_jax.load(workdir)
  frames = np.random.default_rng(0).integers(0, 256, (3, 90, 170, 3), dtype=np.uint8)
  hm = model.heatmaps(frames)
  h = model.input_size // model.stride
  assert hm.shape == (3, h, h, 7) and hm.dtype == np.float32
  joints, conf = model.joints(frames)
  assert joints.shape == (3, 7, 2) and conf.shape == (3, 7)
  # letterboxed: decoded joints lie inside the (padded) frame's extent
  assert (joints[..., 0] > -1).all() and (joints[..., 0] < 171).all()


def test_joints_map_back_through_the_box(workdir):
  model = flowpose_jax.load(workdir)
  frame = np.zeros((200, 300, 3), np.uint8)
  box = np.array([[100, 40, 163, 103]], np.float32)  # 64x64 box
  inputs, mats = model.preprocess(frame[None], box)
  # box centre goes to the input centre
  c = heatmaps.apply_affine(np.array([[131.5, 71.5]]), mats[0])
  assert np.allclose(c, (model.input_size - 1) / 2, atol=1e-3)
  with pytest.raises(InputError, match=r"boxes must be \[T, 4\]"):
    model.preprocess(frame[None], np.zeros((2, 4)))


def test_bad_frames_are_named(workdir):
  model = flowpose_jax.load(workdir)
  with pytest.raises(InputError, match="wrap it as frames"):
    model.heatmaps(np.zeros((10, 10, 3), np.uint8))
  with pytest.raises(InputError, match="dtype float32"):
    model.heatmaps(np.zeros((1, 10, 10, 3), np.float32))


def test_evaluate_writes_table_plot_json(workdir, tiny_data_dir, tmp_path):
  result, table = jobs.evaluate_workdir(workdir, split="test", data_dir=tiny_data_dir, out_dir=str(tmp_path))
  assert "right_wrist" in table
  assert os.path.getsize(tmp_path / "accuracy_test.png") > 1000
  with open(tmp_path / "results_test.json") as f:
    data = json.load(f)
  assert data["meta"]["split"] == "test"
  assert int(np.sum(result["counts"])) > 0


def test_cli_predict_images_folder_and_video(workdir, tmp_path, capsys):
  rng = np.random.default_rng(0)
  img = tmp_path / "a.jpg"
  cv2.imwrite(str(img), rng.integers(0, 256, (80, 120, 3), dtype=np.uint8))
  folder = tmp_path / "frames"
  folder.mkdir()
  for i in (1, 2, 10):
    cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 256, (60, 60, 3), dtype=np.uint8))
  out = tmp_path / "out"
  with pytest.raises(SystemExit) as e:
    cli.main(["predict", "--workdir", workdir, str(img), str(folder), "--out", str(out)])
  assert e.value.code == 0
  with open(out / "a.json") as f:
    data = json.load(f)
  assert len(data["frames"]) == 1 and set(data["frames"][0]["joints"]) == set(data["joint_names"])
  assert (out / "frames_overlay.mp4").exists() and (out / "a_overlay.jpg").exists()
  lines = (out / "frames.csv").read_text().splitlines()
  assert len(lines) == 1 + 3 * 7


def test_cli_errors_are_one_line(workdir, tmp_path, capsys):
  bad = tmp_path / "broken.jpg"
  good = cv2.imencode(".jpg", np.zeros((50, 50, 3), np.uint8))[1].tobytes()
  bad.write_bytes(good[: len(good) // 2])
  with pytest.raises(SystemExit) as e:
    cli.main(["predict", "--workdir", workdir, str(bad), "--out", str(tmp_path / "o")])
  assert e.value.code == 2
  err = capsys.readouterr().err.strip()
  assert "broken.jpg" in err and len(err.splitlines()) == 1 and "Traceback" not in err
  with pytest.raises(SystemExit) as e:
    cli.main(["train", "--config", "configs/tiny.py", "--workdir", str(tmp_path / "w"),
              "--config.optimizer.lr=1"])
  assert e.value.code == 2
  err = capsys.readouterr().err
  assert "--config.optimizer.lr" in err and "learning_rate" in err
  with pytest.raises(SystemExit) as e:
    cli.main(["evaluate", "--workdir", str(tmp_path / "nowhere")])
  assert e.value.code == 2
  assert "not a training workdir" in capsys.readouterr().err
