"""flowpose predict --coco: COCO keypoint results that the coco_keypoints conversion reads back."""

import json

import cv2
import numpy as np
import pytest

from flowpose_jax.data import coco_format
from flowpose_jax import cli, joints as joints_lib
from flowpose_jax.errors import FlowposeError


def _image(path, h=60, w=80, seed=0):
  cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))
  return str(path)


def _predict(capsys, *argv):
  code = cli.run(["predict", *argv])
  captured = capsys.readouterr()
  return code, captured.out.split(), [line for line in captured.err.splitlines() if line.startswith("flowpose:")]


def _check_round_trip(result, json_path):
  """The result's keypoints, read with the builder's conversion, equal the JSON output (0.01 px)."""
  frame = json.loads(open(json_path).read())["frames"][0]
  want = np.array([frame["joints"][n] for n in joints_lib.JOINT_NAMES])
  conf = np.array([frame["confidence"][n] for n in joints_lib.JOINT_NAMES])
  xy, scores = coco_format.keypoints_from_coco(result["keypoints"])
  assert xy.shape == (17, 2)
  ours = list(coco_format.RESULT_KEYPOINTS)
  others = [k for k in range(17) if k not in ours]
  assert np.isnan(xy[others]).all() and (scores[others] == 0).all()
  assert np.array(result["keypoints"]).reshape(17, 3)[others].tolist() == [[0, 0, 0]] * 10
  got = xy[ours]
  scored = conf > 0
  assert scored.sum() >= 4
  np.testing.assert_allclose(got[scored], want[scored], atol=0.01)
  np.testing.assert_allclose(scores[ours][scored], conf[scored], atol=1e-6)
  assert np.isnan(got[~scored]).all()
  joints, visible = coco_format.joints_from_keypoints(xy)   # the builder's mapping: head <- nose
  np.testing.assert_allclose(joints[visible], want[visible], atol=0.01)
  assert result["score"] == pytest.approx(conf.mean(), abs=1e-6)


def test_coco_results_round_trip_with_running_ids(tiny_workdir, tmp_path, capsys):
  a, b = _image(tmp_path / "a.jpg"), _image(tmp_path / "b.png", 90, 70, seed=1)
  out = tmp_path / "out"
  code, written, err = _predict(capsys, "--workdir", tiny_workdir, a, b, "--out", str(out), "--coco")
  assert code == 0 and not err
  assert written[-1] == str(out / "predictions_coco.json") and str(out / "a.json") in written
  results = json.loads((out / "predictions_coco.json").read_text())
  assert [(r["image_id"], r["category_id"]) for r in results] == [(1, 1), (2, 1)]
  assert [len(r["keypoints"]) for r in results] == [51, 51]
  _check_round_trip(results[0], out / "a.json")
  _check_round_trip(results[1], out / "b.json")


def test_coco_image_ids_from_an_annotation_file(tiny_workdir, tmp_path, capsys):
  a, b = _image(tmp_path / "000000397133.jpg"), _image(tmp_path / "other.jpg", seed=2)
  video = tmp_path / "clip.mp4"
  writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
  for i in range(2):
    writer.write(np.full((48, 64, 3), 60 * i, np.uint8))
  writer.release()
  ann = tmp_path / "person_keypoints_val2017.json"
  ann.write_text(json.dumps({"images": [{"id": 397133, "file_name": "val2017/000000397133.jpg"}],
                             "annotations": [], "categories": []}))
  out = tmp_path / "out"
  code, _, err = _predict(capsys, "--workdir", tiny_workdir, a, b, str(video), "--out", str(out),
                          "--coco", "--coco_annotations", str(ann))
  assert code == 1
  assert err[0] == (f"flowpose: skipped {b}: other.jpg (and 0 more) not in --coco_annotations' images; "
                    f"pass the annotation file these images come from")
  assert err[1].startswith(f"flowpose: skipped {video}: a video's frames have no file names")
  results = json.loads((out / "predictions_coco.json").read_text())
  assert [r["image_id"] for r in results] == [397133]
  assert not (out / "other.json").exists()   # a skipped input writes nothing
  _check_round_trip(results[0], out / "000000397133.json")


def test_coco_options_are_checked(tiny_workdir, tmp_path):
  a = _image(tmp_path / "a.jpg")
  with pytest.raises(FlowposeError, match="--coco_annotations gives image ids for --coco: add --coco or drop it"):
    cli.run(["predict", "--workdir", tiny_workdir, a, "--out", str(tmp_path / "o"),
             "--coco_annotations", str(tmp_path / "x.json")])
  bad = tmp_path / "bad.json"
  bad.write_text("{\"images\": [")
  with pytest.raises(FlowposeError, match=r"bad.json: not valid JSON .*pass a COCO annotation file"):
    cli.run(["predict", "--workdir", tiny_workdir, a, "--out", str(tmp_path / "o"), "--coco",
             "--coco_annotations", str(bad)])
