"""coco_keypoints builder: a synthetic COCO-format fixture, and one made from the shared Buffy frames."""

import json
import logging
import pathlib

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from flowpose_jax.data_builders import coco_keypoints
from flowpose_jax.data import coco_format
from flowpose_jax import joints as joints_lib

SHARED = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data" / "realpose"
NAMES = coco_format.COCO_KEYPOINT_NAMES
H, W = 48, 64


def _kps(points: dict, n=17):
  """{COCO name: (x, y, v)} -> flat [x, y, v] * 17 (unlisted: 0, 0, 0)."""
  flat = [0.0] * (3 * n)
  for name, (x, y, v) in points.items():
    k = NAMES.index(name)
    flat[3 * k:3 * k + 3] = [x, y, v]
  return flat


ARMS = {"right_wrist": (12, 30, 2), "left_wrist": (50, 31, 2), "right_elbow": (15, 24, 2),
        "left_elbow": (47, 24, 1), "right_shoulder": (22, 16, 2), "left_shoulder": (40, 16, 2)}
FACE = {"nose": (31, 8, 2), "left_eye": (33, 6, 2), "right_eye": (29, 6, 2), "left_ear": (36, 7, 1),
        "right_ear": (26, 7, 2)}


def write_coco(root, split="val2017", *, image_ext=".jpg", annotations=None):
  """``root/annotations/person_keypoints_<split>.json`` + ``root/<split>/`` two generated images.

  Annotations (index: what): 0 image 1, all face + arms (one v = 1) with a bbox;
  1 image 1, nose + left ear, left wrist not labelled, no bbox; 2 image 2 crowd;
  3 image 2 every v = 0; 4 image 2 legs only; 5 image 2 a dog (category without
  keypoints); 6 image 2 arms only, with a bbox.
  """
  (root / split).mkdir(parents=True)
  (root / "annotations").mkdir(exist_ok=True)
  rng = np.random.default_rng(0)
  images = []
  for i in (1, 2):
    name = f"{i:012d}{image_ext}"
    cv2.imwrite(str(root / split / name), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    images.append({"id": i, "file_name": name, "width": W, "height": H})
  second = dict(ARMS)
  del second["left_wrist"]
  if annotations is None:
    annotations = [
        {"id": 10, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [8.0, 2.0, 46.0, 32.0],
         "keypoints": _kps({**FACE, **ARMS}), "num_keypoints": 11},
        {"id": 11, "image_id": 1, "category_id": 1, "iscrowd": 0,
         "keypoints": _kps({"nose": (30, 10, 2), "left_ear": (36, 10, 2), **second}), "num_keypoints": 7},
        {"id": 12, "image_id": 2, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 30, 30],
         "keypoints": _kps({}), "num_keypoints": 0},
        {"id": 13, "image_id": 2, "category_id": 1, "iscrowd": 0, "bbox": [0, 0, 5, 5],
         "keypoints": _kps({}), "num_keypoints": 0},
        {"id": 14, "image_id": 2, "category_id": 1, "iscrowd": 0, "bbox": [0, 20, 20, 20],
         "keypoints": _kps({"left_knee": (5, 30, 2), "right_ankle": (8, 40, 2)}), "num_keypoints": 2},
        {"id": 15, "image_id": 2, "category_id": 2, "iscrowd": 0, "bbox": [1, 1, 10, 10]},
        {"id": 16, "image_id": 2, "category_id": 1, "iscrowd": 0, "bbox": [10.5, 12.25, 40.0, 30.0],
         "keypoints": _kps(ARMS), "num_keypoints": 6},
    ]
  data = {"images": images, "annotations": annotations,
          "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(NAMES)},
                         {"id": 2, "name": "dog", "supercategory": "animal"}]}
  path = root / "annotations" / f"person_keypoints_{split}.json"
  path.write_text(json.dumps(data))
  return path


def _builder(tmp_path):
  return coco_keypoints.CocoKeypoints(data_dir=str(tmp_path / "tfds"), file_format="array_record")


def _build(tmp_path, manual):
  builder = _builder(tmp_path)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
  return builder


def _records(tmp_path, split="val2017"):
  src = tfds.data_source("coco_keypoints", split=split, data_dir=str(tmp_path / "tfds"))
  return src, [src[i] for i in range(len(src))]


def test_people_mapping_box_and_skips(tmp_path, caplog):
  write_coco(tmp_path / "coco")
  with caplog.at_level(logging.INFO, logger="flowpose_jax.data_builders.coco_keypoints.coco_keypoints"):
    builder = _build(tmp_path, tmp_path / "coco")
  assert "val2017: 3 people from person_keypoints_val2017.json; skipped 1 crowd, 1 no_labelled_keypoints, " \
         "1 none_of_our_joints, 1 other_category" in caplog.text
  assert builder.info.metadata["skipped"] == {"val2017": {"crowd": 1, "no_labelled_keypoints": 1,
                                                          "none_of_our_joints": 1, "other_category": 1}}
  src, recs = _records(tmp_path)
  assert [int(r["annotation_id"]) for r in recs] == [10, 11, 16]
  assert [int(r["image_id"]) for r in recs] == [1, 1, 2]
  a, b, c = recs
  assert a["image"].shape == (H, W, 3)
  # Head = mean of the five labelled face points; arms by name; v = 1 counts as visible.
  np.testing.assert_allclose(a["joints"][0], np.mean(list(FACE.values()), 0)[:2], atol=1e-5)
  for j, name in enumerate(joints_lib.JOINT_NAMES[1:], 1):
    np.testing.assert_allclose(a["joints"][j], ARMS[name][:2])
  assert a["visible"].all()
  assert a["keypoint_flags"][NAMES.index("left_elbow")] == 1
  # COCO bbox [x, y, w, h] (pixel edges) -> inclusive pixel centres [x, y, x + w - 1, y + h - 1].
  np.testing.assert_allclose(a["box"], [8, 2, 53, 33])
  np.testing.assert_allclose(c["box"], [10.5, 12.25, 49.5, 41.25])
  # Unlabelled keypoints (v = 0) are missing: NaN and not visible; head from nose + left ear only.
  lw = joints_lib.JOINT_NAMES.index("left_wrist")
  assert not b["visible"][lw] and np.isnan(b["joints"][lw]).all()
  assert b["visible"].sum() == 6
  np.testing.assert_allclose(b["joints"][0], [33, 10])
  assert np.isnan(b["keypoints_coco"][NAMES.index("left_eye")]).all()
  assert b["keypoint_flags"][NAMES.index("left_eye")] == 0
  # No bbox: the labelled keypoints' extent grown by BOX_MARGIN.
  assert (b["box"][:2] <= np.nanmin(b["keypoints_coco"], 0)).all()
  assert (b["box"][2:] >= np.nanmax(b["keypoints_coco"], 0)).all()
  # Arms only: no head.
  assert not c["visible"][0] and c["visible"][1:].all()
  assert str(b["filename"], "utf-8") == "000000000001.jpg" and int(b["video_id"]) == -1


def test_round_trip_to_frame_pixels(tmp_path, assert_round_trip):
  write_coco(tmp_path / "coco", image_ext=".png")   # PNG images are re-encoded as JPEG.
  _build(tmp_path, tmp_path / "coco")
  assert_round_trip(_records(tmp_path)[0])


def test_every_annotation_file_is_a_split(tmp_path):
  manual = tmp_path / "coco"
  write_coco(manual, "train")
  path = write_coco(manual, "val")
  path.rename(manual / path.name)   # a file directly in manual_dir counts too.
  builder = _build(tmp_path, manual)
  assert sorted(builder.info.splits) == ["train", "val"]
  assert builder.info.splits["val"].num_examples == 3


def test_no_annotation_file(tmp_path, expect_failure):
  manual = tmp_path / "coco"
  write_coco(manual).unlink()
  expect_failure(_builder(tmp_path), manual, r"no person_keypoints_<split>.json in \S*coco/annotations")


def test_image_missing(tmp_path, expect_failure):
  manual = tmp_path / "coco"
  write_coco(manual)
  (manual / "val2017" / "000000000002.jpg").unlink()
  expect_failure(_builder(tmp_path), manual,
                 r"000000000002.jpg \(image 2 in \S*person_keypoints_val2017.json\) not found in")


def test_malformed_json(tmp_path, expect_failure):
  manual = tmp_path / "coco"
  path = write_coco(manual)
  path.write_text(path.read_text()[:-40])
  expect_failure(_builder(tmp_path), manual, r"person_keypoints_val2017.json: not valid JSON")


def test_keypoints_of_the_wrong_length(tmp_path, expect_failure):
  manual = tmp_path / "coco"
  path = write_coco(manual)
  data = json.loads(path.read_text())
  data["annotations"][1]["keypoints"] = data["annotations"][1]["keypoints"][:-3]
  path.write_text(json.dumps(data))
  expect_failure(_builder(tmp_path), manual, r"annotation 1 \(id 11\) has 48 keypoint numbers, expected 51")


@pytest.mark.parametrize("what, key", [("annotation", "annotations"), ("image", "images")])
def test_duplicate_ids_are_refused(tmp_path, expect_failure, what, key):
  manual = tmp_path / "coco"
  path = write_coco(manual)
  data = json.loads(path.read_text())
  data[key][-1]["id"] = data[key][0]["id"]
  path.write_text(json.dumps(data))
  last = len(data[key]) - 1
  expect_failure(_builder(tmp_path), manual, rf"{what}s 0 and {last} share the id {data[key][0]['id']}")


def test_keypoint_names_not_coco(tmp_path, expect_failure):
  manual = tmp_path / "coco"
  path = write_coco(manual)
  data = json.loads(path.read_text())
  data["categories"][0]["keypoints"] = [f"point{i}" for i in range(17)]
  path.write_text(json.dumps(data))
  expect_failure(_builder(tmp_path), manual, r"category 1 \('person'\) .*lacking COCO's \['nose'")


def test_image_size_differs_from_the_file(tmp_path, expect_failure):
  manual = tmp_path / "coco"
  write_coco(manual)
  cv2.imwrite(str(manual / "val2017" / "000000000001.jpg"), np.zeros((10, 10, 3), np.uint8))
  expect_failure(_builder(tmp_path), manual, r"000000000001.jpg is 10x10 but .* lists image 1 as 64x48")


def write_coco_from_shared(root, n=6):
  """``root/annotations/person_keypoints_val.json`` for the first n shared Buffy frames
  (``root/val`` links to the shared folder; nothing is copied): head -> nose, arms
  by name; the first frame's left wrist unlabelled; a crowd and a zero-keypoint
  annotation on the second frame."""
  entries = json.loads((SHARED / "annotations.json").read_text())[:n]
  (root / "annotations").mkdir(parents=True)
  (root / "val").symlink_to(SHARED, target_is_directory=True)
  images, anns = [], []
  for i, e in enumerate(entries):
    images.append({"id": 100 + i, "file_name": e["image"], "width": e["width"], "height": e["height"]})
    points = {"nose" if name == "head" else name: (x, y, 2)
              for name, (x, y) in zip(joints_lib.JOINT_NAMES, e["joints"])}
    if i == 0:
      points["left_wrist"] = (0, 0, 0)
    anns.append({"id": 1000 + i, "image_id": 100 + i, "category_id": 1, "iscrowd": 0,
                 "bbox": [100.0, 50.0, 300.0, 340.0], "keypoints": _kps(points)})
  anns += [{"id": 2000, "image_id": 101, "category_id": 1, "iscrowd": 1, "keypoints": _kps({})},
           {"id": 2001, "image_id": 101, "category_id": 1, "iscrowd": 0, "keypoints": _kps({})}]
  data = {"images": images, "annotations": anns,
          "categories": [{"id": 1, "name": "person", "keypoints": list(NAMES)}]}
  (root / "annotations" / "person_keypoints_val.json").write_text(json.dumps(data))
  return entries


@pytest.mark.skipif(not (SHARED / "annotations.json").exists(),
                    reason=f"{SHARED} (shared Buffy images) is not on this machine")
def test_coco_fixture_from_the_shared_frames(tmp_path, assert_round_trip):
  entries = write_coco_from_shared(tmp_path / "coco")
  builder = _build(tmp_path, tmp_path / "coco")
  assert builder.info.metadata["skipped"]["val"] == {"crowd": 1, "no_labelled_keypoints": 1,
                                                     "none_of_our_joints": 0, "other_category": 0}
  src, recs = _records(tmp_path, "val")
  assert len(recs) == len(entries)
  for r, e in zip(recs, entries):
    assert str(r["filename"], "utf-8") == e["image"]
    assert r["image"].shape == (e["height"], e["width"], 3)
    want = np.array(e["joints"], np.float32)
    ok = r["visible"]
    np.testing.assert_allclose(r["joints"][ok], want[ok], atol=1e-4)
    np.testing.assert_allclose(r["box"], [100, 50, 399, 389])
  lw = joints_lib.JOINT_NAMES.index("left_wrist")
  assert not recs[0]["visible"][lw] and recs[0]["visible"].sum() == 6 and recs[1]["visible"].all()
  assert_round_trip(src)
  assert not list(pathlib.Path(__file__).resolve().parents[2].rglob("buffy_s5e*.jpg"))
