"""FLIC builder on a made-up examples.mat with the real struct layout and file names."""

import cv2
import numpy as np
import scipy.io
import tensorflow_datasets as tfds

from flowpose_jax.data_builders import flic

H, W = 48, 72
FIELDS = ("poselet_hit_idx", "moviename", "coords", "filepath", "imgdims", "currframe",
          "torsobox", "istrain", "istest", "isbad", "isunchecked")
LABELLED = (0, 1, 2, 3, 4, 5, 6, 9, 12, 13, 16)


def _coords(i):
  """2x29 1-based coords: unlabelled columns NaN; rwri (col 5) at a known place."""
  c = np.full((2, 29), np.nan)
  for k in LABELLED:
    c[:, k] = (10 + k + i, 5 + k)
  c[:, 5] = (11.0, 21.0)   # person's right wrist, 1-based -> (10, 20) 0-based.
  c[:, 2] = (61.0, 31.0)   # person's left wrist.
  return c


def write_flic(root, n=5, test_every=3, drop_fields=(), variable="examples"):
  """FLIC/examples.mat (1xN struct) + FLIC/images/<movie>-<frame %08d>.jpg."""
  folder = root / "FLIC"
  (folder / "images").mkdir(parents=True)
  fields = [f for f in FIELDS if f not in drop_fields]
  arr = np.zeros((1, n), dtype=[(f, "O") for f in fields])
  for i in range(n):
    movie = "12-oclock-high" if i < 3 else "battle-cry"
    frame = 1000 + 10 * i
    name = f"{movie}-{frame:08d}.jpg"
    values = {
        "poselet_hit_idx": np.array([[1, 2]], np.uint16), "moviename": movie,
        "coords": _coords(i), "filepath": name, "imgdims": np.array([[H, W, 3]], float),
        "currframe": float(frame), "torsobox": np.array([[21.0, 11.0, 41.0, 31.0]]),
        "istrain": float(i % test_every != 0), "istest": float(i % test_every == 0),
        "isbad": float(i == 1), "isunchecked": 0.0,
    }
    for f in fields:
      arr[0, i][f] = values[f]
    img = np.full((H, W, 3), 40 * i % 255, np.uint8)
    cv2.imwrite(str(folder / "images" / name), img)
  scipy.io.savemat(folder / "examples.mat", {variable: arr})
  return folder


def _builder(root, config="small"):
  return flic.Flic(config=config, data_dir=str(root / "tfds"), file_format="array_record")


def build(tmp_path, manual, config="small"):
  builder = _builder(tmp_path, config)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
  return builder


def test_fixture_reads_back_like_the_real_file(tmp_path):
  folder = write_flic(tmp_path)
  examples = flic.flic.load_examples(folder / "examples.mat")
  assert len(examples) == 5
  assert examples[0].coords.shape == (2, 29)
  assert examples[0].moviename == "12-oclock-high"
  assert examples[3].filepath == "battle-cry-00001030.jpg"


def test_build_counts_mapping_and_masking(tmp_path):
  write_flic(tmp_path)
  builder = build(tmp_path, tmp_path)
  assert builder.is_prepared()
  data_dir = str(tmp_path / "tfds")
  train = tfds.data_source("flic/small", split="train", data_dir=data_dir)
  test = tfds.data_source("flic/small", split="test", data_dir=data_dir)
  assert (len(train), len(test)) == (3, 2)   # i % 3 == 0 -> test: 0, 3.
  ex = test[1]                                # example index 3.
  assert ex["image"].shape == (H, W, 3)
  # Right wrist in channel 1, 1-based (11, 21) -> 0-based (10, 20); left wrist channel 2.
  np.testing.assert_allclose(ex["joints"][1], [10, 20])
  np.testing.assert_allclose(ex["joints"][2], [60, 30])
  # Head = mean(leye, reye, nose), 0-based.
  c = _coords(3)[:, [12, 13, 16]].mean(1) - 1
  np.testing.assert_allclose(ex["joints"][0], c, rtol=1e-6)
  assert ex["visible"].all()
  # Extra joints kept; unlabelled columns NaN and invisible, never (0, 0).
  assert ex["joints_full"].shape == (29, 2)
  np.testing.assert_allclose(ex["joints_full"][9], _coords(3)[:, 9] - 1)
  assert not ex["visible_full"][7] and np.isnan(ex["joints_full"][7]).all()
  assert ex["visible_full"].sum() == len(LABELLED)
  np.testing.assert_allclose(ex["box"], [20, 10, 40, 30])
  assert int(ex["frame_index"]) == 1030 and int(ex["video_id"]) == 1   # sorted movie names.
  assert bool(train[0]["isbad"]) and not bool(train[1]["isbad"])


def test_missing_head_part_masks_head(tmp_path):
  c = _coords(0)
  c[:, 13] = np.nan
  joints, visible = flic.to_ours((c.T - 1).astype(np.float32))
  assert not visible[0] and np.isnan(joints[0]).all() and visible[1:].all()


def test_manual_dir_missing(tmp_path, expect_failure):
  expect_failure(_builder(tmp_path), tmp_path / "nowhere", "manual_dir")


def test_annotation_file_missing(tmp_path, expect_failure):
  (tmp_path / "FLIC").mkdir()
  expect_failure(_builder(tmp_path), tmp_path, "examples.mat not found")


def test_truncated_mat(tmp_path, expect_failure):
  folder = write_flic(tmp_path)
  data = (folder / "examples.mat").read_bytes()
  (folder / "examples.mat").write_bytes(data[: len(data) // 2])
  expect_failure(_builder(tmp_path), tmp_path, "truncated")


def test_mat_from_another_dataset(tmp_path, expect_failure):
  write_flic(tmp_path, variable="piw_data")
  expect_failure(_builder(tmp_path), tmp_path, r"no variable 'examples' \(found \['piw_data'\]\)")


def test_mat_without_fields(tmp_path, expect_failure):
  write_flic(tmp_path, drop_fields=("coords",))
  expect_failure(_builder(tmp_path), tmp_path, r"lacks fields \['coords'\]")


def test_listed_image_missing(tmp_path, expect_failure):
  folder = write_flic(tmp_path)
  (folder / "images" / "battle-cry-00001040.jpg").unlink()
  expect_failure(_builder(tmp_path), tmp_path, "battle-cry-00001040.jpg.*listed in")


def test_image_fails_to_decode(tmp_path, expect_failure):
  folder = write_flic(tmp_path)
  (folder / "images" / "battle-cry-00001030.jpg").write_bytes(b"not a jpeg")
  expect_failure(_builder(tmp_path), tmp_path, "battle-cry-00001030.jpg.*decodable")


def test_round_trip_to_frame_pixels(tmp_path, assert_round_trip):
  build(tmp_path, write_flic(tmp_path / "m"))
  for split in ("train", "test"):
    assert_round_trip(tfds.data_source("flic/small", split=split, data_dir=str(tmp_path / "tfds")))
