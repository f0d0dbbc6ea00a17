"""realpose builder: the shared Buffy / PARSE folders (skipped when absent) and bad input."""

import json
import pathlib

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from data_builders import realpose

SHARED = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _builder(root, config="buffy"):
  return realpose.Realpose(config=config, data_dir=str(root / "tfds"), file_format="array_record")


def _build(tmp_path, config, manual=None):
  builder = _builder(tmp_path, config)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(manual) if manual else None))
  return builder


@pytest.mark.skipif(not (SHARED / "realpose" / "annotations.json").exists(),
                    reason=f"{SHARED / 'realpose'} (shared Buffy images) is not on this machine")
def test_buffy_from_shared_folder(tmp_path):
  _build(tmp_path, "buffy")   # no manual_dir: defaults to ../shared/data/realpose.
  src = tfds.data_source("realpose", split="test", data_dir=str(tmp_path / "tfds"))
  assert len(src) == 300
  ann = json.loads((SHARED / "realpose" / "annotations.json").read_text())
  ex = src[0]
  np.testing.assert_allclose(ex["joints"], np.array(ann[0]["joints"], np.float32))
  assert ex["visible"].all()
  assert ex["image"].shape == (ann[0]["height"], ann[0]["width"], 3)
  assert (int(ex["video_id"]), int(ex["frame_index"])) == (2, 63)
  np.testing.assert_allclose(ex["sticks"][5], np.array(ann[0]["buffy_sticks_1based_x1y1x2y2"]["head"]) - 1,
                             rtol=1e-6)
  b = ex["box"]
  assert (b[:2] <= ex["joints"].min(0)).all() and (b[2:] >= ex["joints"].max(0)).all()
  # Images are never copied into the repository.
  repo = pathlib.Path(__file__).resolve().parents[2]
  assert not list(repo.rglob("buffy_s5e*.jpg"))


@pytest.mark.skipif(not (SHARED / "realpose_parse" / "annotations.json").exists(),
                    reason=f"{SHARED / 'realpose_parse'} (shared PARSE images) is not on this machine")
def test_parse_from_shared_folder(tmp_path):
  _build(tmp_path, "parse")
  src = tfds.data_source("realpose/parse", split="test", data_dir=str(tmp_path / "tfds"))
  assert len(src) == 100
  ann = json.loads((SHARED / "realpose_parse" / "annotations.json").read_text())
  ex = src[0]
  np.testing.assert_allclose(ex["joints"], np.array(ann[0]["joints"], np.float32))
  # Person's right wrist = PARSE point 7 (1-based) - 1.
  np.testing.assert_allclose(ex["joints_full"][6], ex["joints"][1], atol=1e-4)
  assert ex["joints_full"].shape == (14, 2) and ex["visible_full"].all()
  assert int(ex["video_id"]) == -1


def _write(folder, n=2, joints=None):
  folder.mkdir(parents=True)
  entries = []
  for i in range(n):
    name = f"buffy_s5e2_{i:06d}.jpg"
    cv2.imwrite(str(folder / name), np.zeros((20, 30, 3), np.uint8))
    j = joints if joints is not None else [[5.0 + i, 5.0]] * 7
    entries.append({"image": name, "joints": j, "width": 30, "height": 20})
  (folder / "annotations.json").write_text(json.dumps(entries))
  return folder


def test_explicit_manual_dir_and_null_joint(tmp_path):
  joints = [[1.0, 2.0]] * 6 + [None]
  folder = _write(tmp_path / "mine", joints=joints)
  _build(tmp_path, "buffy", folder)
  src = tfds.data_source("realpose", split="test", data_dir=str(tmp_path / "tfds"))
  assert len(src) == 2
  assert not src[0]["visible"][6] and np.isnan(src[0]["joints"][6]).all()
  assert np.isnan(src[0]["sticks"]).all()


def test_manual_dir_missing(tmp_path, expect_failure, monkeypatch):
  # Without a usable manual_dir the shared folder is read; here it is missing too.
  monkeypatch.setattr(realpose.RealposeConfig, "default_manual_dir", tmp_path / "no_shared")
  expect_failure(_builder(tmp_path), tmp_path / "nowhere", "nowhere does not exist.*no_shared")


def test_annotation_file_missing(tmp_path, expect_failure):
  folder = _write(tmp_path / "mine")
  (folder / "annotations.json").unlink()
  expect_failure(_builder(tmp_path), folder, "annotations.json not found")


def test_annotations_from_another_dataset(tmp_path, expect_failure):
  folder = _write(tmp_path / "mine")
  (folder / "annotations.json").write_text(json.dumps({"images": []}))
  expect_failure(_builder(tmp_path), folder, "expected a non-empty list")


def test_listed_image_missing(tmp_path, expect_failure):
  folder = _write(tmp_path / "mine")
  (folder / "buffy_s5e2_000001.jpg").unlink()
  expect_failure(_builder(tmp_path), folder, "buffy_s5e2_000001.jpg.*listed in")


def test_image_fails_to_decode(tmp_path, expect_failure):
  folder = _write(tmp_path / "mine")
  (folder / "buffy_s5e2_000001.jpg").write_bytes(b"\xff\xd8junk")
  expect_failure(_builder(tmp_path), folder, "buffy_s5e2_000001.jpg.*decodable")


def test_round_trip_to_frame_pixels(tmp_path, assert_round_trip):
  folder = _write(tmp_path / "mine", n=3, joints=[[3.0, 4.0], [20.0, 15.0], [25.0, 15.0], [10.0, 10.0],
                                                   [22.0, 9.0], [8.0, 6.0], [24.0, 6.0]])
  _build(tmp_path, "buffy", folder)
  assert_round_trip(tfds.data_source("realpose", split="test", data_dir=str(tmp_path / "tfds")))
