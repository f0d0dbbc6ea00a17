"""realpose builder: the shared Buffy / PARSE folders (skipped when absent) and bad input."""

import json
import pathlib

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from flowpose_jax.data_builders import realpose
from flowpose_jax.errors import InputError

SHARED = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _builder(root, config="buffy"):
  return realpose.Realpose(config=config, data_dir=str(root / "tfds"), file_format="array_record")


def _build(tmp_path, config, manual=None):
  """Builds like `flowpose data build`: no manual dir given means the config's default (../shared)."""
  builder = _builder(tmp_path, config)
  manual = manual or builder.builder_config.default_manual_dir
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
  return builder


def _names(split_source):
  return [split_source[i]["filename"].decode() for i in range(len(split_source))]


@pytest.mark.skipif(not all((SHARED / f / "annotations.json").exists() for f in ("realpose", "realpose_ep3")),
                    reason=f"{SHARED / 'realpose'} or {SHARED / 'realpose_ep3'} (shared Buffy images) "
                           f"is not on this machine")
def test_buffy_from_shared_folder(tmp_path):
  _build(tmp_path, "buffy")   # no manual_dir: defaults to ../shared/data/realpose (+ realpose_ep3).
  data_dir = str(tmp_path / "tfds")
  src = tfds.data_source("realpose", split="all_frames", data_dir=data_dir)
  assert len(src) == 300
  ann = json.loads((SHARED / "realpose" / "annotations.json").read_text())
  assert _names(src) == [e["image"] for e in ann]   # all: realpose/ in order (test before 2.0.0).
  ex = src[0]
  np.testing.assert_allclose(ex["joints"], np.array(ann[0]["joints"], np.float32))
  assert ex["visible"].all()
  assert ex["image"].shape == (ann[0]["height"], ann[0]["width"], 3)
  assert (int(ex["video_id"]), int(ex["frame_index"])) == (2, 63)
  np.testing.assert_allclose(ex["sticks"][5], np.array(ann[0]["buffy_sticks_1based_x1y1x2y2"]["head"]) - 1,
                             rtol=1e-6)
  b = ex["box"]
  assert (b[:2] <= ex["joints"].min(0)).all() and (b[2:] >= ex["joints"].max(0)).all()
  # Episode splits: 452 / 96, disjoint by file name and by episode, covering both folders.
  train = tfds.data_source("realpose", split="train", data_dir=data_dir)
  val = tfds.data_source("realpose", split="validation", data_dir=data_dir)
  assert (len(train), len(val)) == (452, 96)
  train_names, val_names = _names(train), _names(val)
  assert len(set(train_names)) == 452 and not set(train_names) & set(val_names)
  ep3 = json.loads((SHARED / "realpose_ep3" / "annotations.json").read_text())
  assert set(train_names) | set(val_names) == {e["image"] for e in ann + ep3}
  assert {int(train[i]["video_id"]) for i in range(len(train))} == {2, 3}
  assert {int(val[i]["video_id"]) for i in range(len(val))} == {4}
  by_name = {e["image"]: e for e in ep3}
  k = train_names.index(ep3[0]["image"])
  np.testing.assert_allclose(train[k]["joints"], np.array(by_name[train_names[k]]["joints"], np.float32))
  # Images are never copied into the repository.
  repo = pathlib.Path(__file__).resolve().parents[2]
  assert not list(repo.rglob("buffy_s5e*.jpg"))


@pytest.mark.skipif(not (SHARED / "realpose_parse" / "annotations.json").exists(),
                    reason=f"{SHARED / 'realpose_parse'} (shared PARSE images) is not on this machine")
def test_parse_from_shared_folder(tmp_path):
  _build(tmp_path, "parse")
  src = tfds.data_source("realpose/parse", split="train", data_dir=str(tmp_path / "tfds"))
  assert len(src) == 100
  ann = json.loads((SHARED / "realpose_parse" / "annotations.json").read_text())
  ex = src[0]
  np.testing.assert_allclose(ex["joints"], np.array(ann[0]["joints"], np.float32))
  # Person's right wrist = PARSE point 7 (1-based) - 1.
  np.testing.assert_allclose(ex["joints_full"][6], ex["joints"][1], atol=1e-4)
  assert ex["joints_full"].shape == (14, 2) and ex["visible_full"].all()
  assert int(ex["video_id"]) == -1


def _write(folder, n=2, joints=None, names=None):
  """``folder/annotations.json`` + tiny jpgs (default names: episode 2, frames 0..n-1)."""
  folder.mkdir(parents=True)
  entries = []
  for i, name in enumerate(names or [f"buffy_s5e2_{i:06d}.jpg" for i in range(n)]):
    cv2.imwrite(str(folder / name), np.zeros((20, 30, 3), np.uint8))
    j = joints if joints is not None else [[5.0 + i, 5.0]] * 7
    entries.append({"image": name, "joints": j, "width": 30, "height": 20})
  (folder / "annotations.json").write_text(json.dumps(entries))
  return folder


def _write_buffy(root, n=2, joints=None, names=None, ep3_names=("buffy_s5e3_000900.jpg",)):
  """``root/mine`` (the realpose/ folder: default n frames of episode 2 and one of
  episode 4) and its sibling ``root/realpose_ep3``."""
  _write(root / "realpose_ep3", names=list(ep3_names))
  names = names or [f"buffy_s5e2_{i:06d}.jpg" for i in range(n)] + ["buffy_s5e4_000999.jpg"]
  return _write(root / "mine", joints=joints, names=names)


def test_explicit_manual_dir_and_null_joint(tmp_path):
  joints = [[1.0, 2.0]] * 6 + [None]
  folder = _write_buffy(tmp_path, joints=joints)
  _build(tmp_path, "buffy", folder)
  src = tfds.data_source("realpose", split="all_frames", data_dir=str(tmp_path / "tfds"))
  assert len(src) == 3
  assert not src[0]["visible"][6] and np.isnan(src[0]["joints"][6]).all()
  assert np.isnan(src[0]["sticks"]).all()


def test_episode_splits(tmp_path):
  names = ["buffy_s5e2_000010.jpg", "buffy_s5e4_000020.jpg", "buffy_s5e3_000030.jpg",
           "buffy_s5e4_000040.jpg", "buffy_s5e5_000050.jpg"]
  folder = _write_buffy(tmp_path, names=names, ep3_names=("buffy_s5e3_000031.jpg", "buffy_s5e3_000032.jpg"))
  _build(tmp_path, "buffy", folder)
  data_dir = str(tmp_path / "tfds")
  got = {s: _names(tfds.data_source("realpose", split=s, data_dir=data_dir))
         for s in ("all_frames", "train", "validation")}
  assert got["all_frames"] == names                         # realpose/ only, all episodes.
  assert got["train"] == ["buffy_s5e2_000010.jpg", "buffy_s5e3_000030.jpg",
                          "buffy_s5e3_000031.jpg", "buffy_s5e3_000032.jpg"]
  assert got["validation"] == ["buffy_s5e4_000020.jpg", "buffy_s5e4_000040.jpg"]


def test_episode_folder_missing(tmp_path, expect_failure):
  folder = _write_buffy(tmp_path)
  (tmp_path / "realpose_ep3" / "annotations.json").unlink()
  expect_failure(_builder(tmp_path), folder, "realpose_ep3/annotations.json not found.*train/validation")


def test_frame_in_both_folders(tmp_path, expect_failure):
  folder = _write_buffy(tmp_path, names=["buffy_s5e3_000900.jpg", "buffy_s5e4_000999.jpg"])
  expect_failure(_builder(tmp_path), folder, "buffy_s5e3_000900.jpg is also listed in .*mine")


def test_frame_name_without_episode(tmp_path, expect_failure):
  folder = _write_buffy(tmp_path, names=["frame_0001.jpg", "buffy_s5e4_000999.jpg"])
  expect_failure(_builder(tmp_path), folder, r"frame_0001.jpg\) is not named buffy_s5e<episode>")


def test_episode_split_without_frames(tmp_path, expect_failure):
  folder = _write_buffy(tmp_path, names=["buffy_s5e2_000001.jpg"])   # no episode 4.
  expect_failure(_builder(tmp_path), folder, r"no frames of episodes \(4,\) for split validation")


def test_explicit_manual_dir_missing_never_falls_back(tmp_path, expect_failure, monkeypatch):
  # The shared folder is usable, but a given --manual_dir that does not exist is an error.
  shared = _write_buffy(tmp_path / "shared")
  monkeypatch.setattr(realpose.RealposeConfig, "default_manual_dir", shared)
  expect_failure(_builder(tmp_path), tmp_path / "nowhere", r"^realpose/buffy manual_dir: .*nowhere")


def test_no_manual_dir_and_no_shared_folder(tmp_path, monkeypatch):
  from flowpose_jax import jobs
  monkeypatch.setattr(realpose.RealposeConfig, "default_manual_dir", tmp_path / "no_shared")
  with pytest.raises(InputError, match="realpose/buffy manual_dir: .*no_shared"):
    jobs.build_dataset("realpose/buffy", str(tmp_path / "tfds"))


def test_annotation_file_missing(tmp_path, expect_failure):
  folder = _write_buffy(tmp_path)
  (folder / "annotations.json").unlink()
  expect_failure(_builder(tmp_path), folder, "annotations.json not found")


def test_annotations_from_another_dataset(tmp_path, expect_failure):
  folder = _write_buffy(tmp_path)
  (folder / "annotations.json").write_text(json.dumps({"images": []}))
  expect_failure(_builder(tmp_path), folder, "expected a non-empty list")


def test_listed_image_missing(tmp_path, expect_failure):
  folder = _write_buffy(tmp_path)
  (folder / "buffy_s5e2_000001.jpg").unlink()
  expect_failure(_builder(tmp_path), folder, "buffy_s5e2_000001.jpg.*listed in")


def test_image_fails_to_decode(tmp_path, expect_failure):
  folder = _write_buffy(tmp_path)
  (folder / "buffy_s5e2_000001.jpg").write_bytes(b"\xff\xd8junk")
  expect_failure(_builder(tmp_path), folder, "buffy_s5e2_000001.jpg.*decodable")


def test_round_trip_to_frame_pixels(tmp_path, assert_round_trip):
  folder = _write_buffy(tmp_path, n=3, joints=[[3.0, 4.0], [20.0, 15.0], [25.0, 15.0], [10.0, 10.0],
                                               [22.0, 9.0], [8.0, 6.0], [24.0, 6.0]])
  _build(tmp_path, "buffy", folder)
  assert_round_trip(tfds.data_source("realpose", split="all_frames", data_dir=str(tmp_path / "tfds")))


@pytest.mark.parametrize("config", ["buffy", "parse"])
def test_no_split_named_test_holds_training_frames(tmp_path, config):
  """A split named test must be held out: buffy's whole folder is "all_frames" (TFDS reserves "all"), PARSE's "train"."""
  builder = tfds.builder(f"realpose/{config}", data_dir=str(tmp_path / "tfds"), file_format="array_record")
  assert builder.builder_config.whole_split != "test"
  assert "test" not in builder.builder_config.episode_splits
