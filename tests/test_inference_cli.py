"""Inference API and the CLI on a tiny trained workdir."""

import json
import os

import cv2
import numpy as np
import pytest

import flowpose_jax
from flowpose_jax import cli, heatmaps, jobs, media
from flowpose_jax.errors import InputError


@pytest.fixture()
def workdir(tiny_workdir):
  return tiny_workdir


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
  with pytest.raises(InputError, match=r"boxes\[0\] 300,0,350,50 does not overlap the 300x200 \(width x height\)"):
    model.preprocess(frame[None], np.array([[300, 0, 350, 50]]))
  with pytest.raises(InputError, match=r"boxes\[0\] 10,0,10,50: needs x0 < x1"):
    model.preprocess(frame[None], np.array([[10, 0, 10, 50]]))
  inputs, _ = model.preprocess(frame[None], np.array([[299, 199, 350, 250]]))  # one corner pixel inside
  assert inputs.shape == (1, model.input_size, model.input_size, 3)


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


def _predict(capsys, workdir, *args) -> tuple[int, list[str], list[str]]:
  """Runs ``flowpose predict``; returns (exit code, stdout lines, stderr lines)."""
  with pytest.raises(SystemExit) as e:
    cli.main(["predict", "--workdir", workdir, *args])
  captured = capsys.readouterr()
  return e.value.code, captured.out.splitlines(), captured.err.strip().splitlines()


def _image(path, height=80, width=120, seed=0):
  cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))
  return str(path)


def test_cli_errors_are_one_line(workdir, tmp_path, capsys):
  bad = tmp_path / "broken.jpg"
  good = cv2.imencode(".jpg", np.zeros((50, 50, 3), np.uint8))[1].tobytes()
  bad.write_bytes(good[: len(good) // 2])
  code, _, err = _predict(capsys, workdir, str(bad), "--out", str(tmp_path / "o"))
  assert code == 1
  assert err == [f"flowpose: skipped {bad}: truncated image (JPEG has no end-of-image marker after its last "
                 f"scan); re-export or re-download it"]
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


def test_predict_writes_every_readable_input_and_reports_the_rest(workdir, tmp_path, capsys):
  folder = tmp_path / "clip"
  folder.mkdir()
  for i in range(3):
    _image(folder / f"{i}.png", 60, 60, seed=i)
  image = _image(tmp_path / "a.jpg")
  corrupt = tmp_path / "corrupt.png"
  corrupt.write_bytes(np.random.default_rng(0).bytes(300))
  missing = tmp_path / "missing.mp4"
  out = tmp_path / "out"
  code, written, err = _predict(capsys, workdir, str(corrupt), str(folder), str(missing), image,
                                "--out", str(out))
  assert code == 1
  assert err == [f"flowpose: skipped {corrupt}: not a readable image (corrupt or unsupported format); "
                 f"convert it to .png or .jpg",
                 f"flowpose: skipped {missing}: no such file or folder; pass an image (.jpg .jpeg .png .bmp), "
                 f"a folder of such images, or a video (.mp4 .avi .mov .mkv .webm .m4v)"]
  assert sorted(os.listdir(out)) == ["a.csv", "a.json", "a_overlay.jpg", "clip.csv", "clip.json",
                                     "clip_overlay.mp4"]
  assert written == [str(out / n) for n in ("clip.json", "clip.csv", "clip_overlay.mp4", "a.json", "a.csv",
                                            "a_overlay.jpg")]


@pytest.mark.parametrize("box, reason", [
    ("10,10,5,50", "needs x0 < x1 and y0 < y1"),
    ("10,10,10,50", "needs x0 < x1 and y0 < y1"),  # zero width
    ("10,50,60,50", "needs x0 < x1 and y0 < y1"),  # zero height
    ("nan,0,50,50", "not finite"),
    ("0,0,inf,50", "not finite"),
    ("1,2,3", "expected four numbers X0,Y0,X1,Y1"),
    ("1,2,3,4,5", "expected four numbers X0,Y0,X1,Y1"),
    ("a,b,c,d", "expected four numbers X0,Y0,X1,Y1"),
])
def test_bad_box_is_one_line(workdir, tmp_path, capsys, box, reason):
  image = _image(tmp_path / "a.jpg")
  for argv in (["--box", box], [f"--box={box}"]):
    code, _, err = _predict(capsys, workdir, image, "--out", str(tmp_path / "o"), *argv)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"flowpose: error: --box {box}") and reason in err[0], err
  assert not (tmp_path / "o").exists()


def test_box_with_negative_values_in_both_forms(workdir, tmp_path, capsys):
  image = _image(tmp_path / "a.jpg")  # 120x80
  results = []
  for argv in (["--box", "-50,-20,60,70"], ["--box=-50,-20,60,70"]):
    out = tmp_path / f"o{len(results)}"
    code, _, err = _predict(capsys, workdir, image, "--out", str(out), *argv)
    assert code == 0, err
    with open(out / "a.json") as f:
      results.append(json.load(f)["frames"][0]["joints"])
  assert results[0] == results[1]
  code, _, _ = _predict(capsys, workdir, image, "--out", str(tmp_path / "whole"))
  with open(tmp_path / "whole" / "a.json") as f:
    assert json.load(f)["frames"][0]["joints"] != results[0]  # the box changed the crop


def test_box_outside_a_frame_skips_that_input(workdir, tmp_path, capsys):
  small = _image(tmp_path / "small.jpg", 80, 120)
  large = _image(tmp_path / "large.jpg", 400, 600)
  out = tmp_path / "out"
  code, _, err = _predict(capsys, workdir, small, large, "--box", "200,100,300,200", "--out", str(out))
  assert code == 1
  assert err == [f"flowpose: skipped {small}: box 200,100,300,200 does not overlap the 120x80 (width x height) "
                 f"frame; give a box that overlaps x 0..119, y 0..79"]
  assert sorted(os.listdir(out)) == ["large.csv", "large.json", "large_overlay.jpg"]


def test_max_frames_limits_videos_and_folders(workdir, tmp_path, capsys):
  frames = np.random.default_rng(0).integers(0, 256, (6, 48, 64, 3), dtype=np.uint8)
  video = tmp_path / "v.avi"
  media.write_video(str(video), frames, fps=10)
  folder = tmp_path / "clip"
  folder.mkdir()
  for i in range(4):
    _image(folder / f"{i}.png", 48, 64, seed=i)
  out = tmp_path / "out"
  code, _, err = _predict(capsys, workdir, str(video), str(folder), "--max_frames", "3", "--out", str(out))
  assert code == 0, err
  for name in ("v", "clip"):
    with open(out / f"{name}.json") as f:
      assert [r["frame"] for r in json.load(f)["frames"]] == [0, 1, 2]
    assert media.read_video(str(out / f"{name}_overlay.mp4"))[0].shape[0] == 3
  code, _, err = _predict(capsys, workdir, str(video), "--max_frames", "0", "--out", str(out))
  assert code == 2 and err == ["flowpose: error: --max_frames 0: must be >= 1 (omit it to read every frame)"]


def test_out_that_is_a_file_is_one_line(workdir, tmp_path, capsys):
  target = tmp_path / "taken.txt"
  target.write_text("keep me")
  image = _image(tmp_path / "a.jpg")
  code, _, err = _predict(capsys, workdir, image, "--out", str(target))
  assert code == 2 and err == [f"flowpose: error: --out {target}: is a file, not a folder; "
                               f"pass a folder path (new or existing)"]
  with pytest.raises(SystemExit) as e:
    cli.main(["evaluate", "--workdir", workdir, "--out", str(target / "sub")])
  err = capsys.readouterr().err.strip().splitlines()
  assert e.value.code == 2 and err == [f"flowpose: error: --out {target / 'sub'}: lies under the file {target}, "
                                       f"not a folder; pass a folder path (new or existing)"]
  assert target.read_text() == "keep me"
