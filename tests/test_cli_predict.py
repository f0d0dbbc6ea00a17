"""``flowpose predict`` (and the CLI's one-line errors) on a tiny trained workdir; the flowing options on an
untrained tiny flowing model (``tests/inference/fakes.py``)."""

import json
import os

import cv2
import numpy as np
import pytest

from flowpose_jax import cli, inference, jobs, media
from tests.inference.fakes import flowing_predictor, textured_clip


@pytest.fixture()
def workdir(tiny_workdir):
  return tiny_workdir


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


def test_predict_step_loads_that_checkpoint(workdir, tmp_path, capsys):
  image = _image(tmp_path / "a.jpg")
  code, written, err = _predict(capsys, workdir, image, "--out", str(tmp_path / "o"), "--step", "20")
  assert code == 0 and written[0] == str(tmp_path / "o" / "a.json"), err
  code, _, err = _predict(capsys, workdir, image, "--out", str(tmp_path / "o"), "--step", "5")
  assert code == 2 and len(err) == 1 and "no checkpoint of step 5" in err[0] and "[20]" in err[0], err


def test_predict_defaults_to_jax_and_refuses_flow_options_without_flow(workdir, tmp_path, capsys):
  parser = cli._parser()  # pylint: disable=protected-access
  args = parser.parse_args(["predict", "--workdir", workdir, "x.jpg", "--out", "o"])
  assert (args.runtime, args.coco, args.flow_source, args.flow_mode, args.step) == ("jax", False, None, None, None)
  image = _image(tmp_path / "a.jpg")
  for flag in (["--flow_source", "dis_fast"], ["--flow_mode", "composed"], ["--flow_causal"], ["--flow_no_shot_cuts"]):
    code, _, err = _predict(capsys, workdir, image, "--out", str(tmp_path / "o"), *flag)
    assert code == 2 and err == [f"flowpose: error: {flag[0]} applies to flowing prediction: add --flow or "
                                 f"drop it"], err


@pytest.fixture()
def clip_folder(tmp_path):
  folder = tmp_path / "clip"
  folder.mkdir()
  for i, frame in enumerate(textured_clip(4)):
    media.write_image(str(folder / f"{i:03d}.png"), frame)
  return str(folder)


def _flowing_run(monkeypatch, capsys, tmp_path, clip_folder, trained: dict, *flags):
  """``predict --flow`` of an untrained flowing model trained with config.flow ``trained``:
  (stderr lines, the OpenCV methods that ran)."""
  from flowpose_jax.flow import compute
  predictor = flowing_predictor(n=1, **trained)
  monkeypatch.setattr(inference, "load", lambda workdir, step=None: predictor)
  methods = set()
  real = compute.flow_between
  monkeypatch.setattr(compute, "flow_between", lambda a, b, method: methods.add(method) or real(a, b, method))
  code, written, err = _predict(capsys, "flowing_workdir", clip_folder, "--out", str(tmp_path / "out"), "--flow",
                                *flags)
  assert code == 0 and written[0].endswith("clip.json"), err
  return err, methods


def test_predict_flow_uses_the_flow_the_model_was_trained_with(monkeypatch, capsys, tmp_path, clip_folder):
  err, methods = _flowing_run(monkeypatch, capsys, tmp_path, clip_folder, {"source": "dis_fast", "mode": "composed"})
  assert err == ["flowpose: flow dis_fast, composed (as trained; --flow_source, --flow_mode to change)"]
  assert methods == {"dis_fast"}
  # exact flow exists only in synthetic sets: a model trained on it gets the default computed flow
  err, methods = _flowing_run(monkeypatch, capsys, tmp_path, clip_folder, {"source": "gt"})
  assert err == ["flowpose: flow dis_fine, composed (the default: trained on exact flow (gt), which a video does "
                 "not have; --flow_source, --flow_mode to change)"]
  assert methods == {"dis_fine"}


def test_predict_flow_flags_override_the_trained_flow(monkeypatch, capsys, tmp_path, clip_folder):
  err, methods = _flowing_run(monkeypatch, capsys, tmp_path, clip_folder, {"source": "dis_fast"},
                              "--flow_source", "farneback", "--flow_mode", "composed", "--flow_causal")
  assert err == ["flowpose: flow farneback, composed (given; trained with dis_fast, direct; --flow_source, "
                 "--flow_mode to change)"]
  assert methods == {"farneback"}
  with pytest.raises(SystemExit) as e:
    cli.main(["predict", "--workdir", "w", clip_folder, "--out", str(tmp_path / "o"), "--flow", "--flow_source", "gt"])
  assert e.value.code == 2
  assert "flow source 'gt': use one of" in capsys.readouterr().err


def test_runtime_auto_says_what_it_ran_on(workdir, tmp_path, capsys):
  image = _image(tmp_path / "a.jpg")
  code, _, err = _predict(capsys, workdir, image, "--out", str(tmp_path / "o"), "--runtime", "auto")
  assert code == 0 and err == ["flowpose: runtime auto: jax (no input of 16 or more frames to time onnxruntime on)"]
