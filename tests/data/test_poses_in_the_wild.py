"""Poses in the Wild builder on a made-up piw_data .mat with the real struct layout and paths."""

import cv2
import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds

from flowpose_jax.data_builders import poses_in_the_wild as piw
from flowpose_jax.errors import InputError

H, W = 40, 64
FRAMES = [("seq07", "The-Terminal-3768-3785-00235.png"), ("seq07", "The-Terminal-3768-3785-00236.png"),
          ("seq20", "The-Terminal-3768-3785-00279.png")]


def _point(i):
  """8x2 1-based (x, y): R wrist (row 7) at (31, 11) -> 0-based (30, 10)."""
  p = np.array([[20, 5], [25, 10], [27, 20], [28, 30], [15, 10], [13, 20], [31, 11], [20, 25]],
               float)
  p[:, 0] += i
  return p


def write_piw(root, variable="piw_data", fields=("im", "point", "visible")):
  folder = root / "poses_in_the_wild_public"
  arr = np.zeros((1, len(FRAMES)), dtype=[(f, "O") for f in fields])
  for i, (seq, name) in enumerate(FRAMES):
    (folder / "selected_seqs" / seq).mkdir(parents=True, exist_ok=True)
    point, visible = _point(i), np.ones(8)
    if i == 1:            # left wrist invisible, stored as [-1, -1].
      point[3], visible[3] = -1, 0
    if i == 2:            # right elbow flagged invisible but with coordinates.
      visible[5] = 0
    values = {"im": f"selected_seqs/{seq}/{name}", "point": point, "coords": point.T,
              "visible": visible}
    for f in fields:
      arr[0, i][f] = values[f]
    cv2.imwrite(str(folder / "selected_seqs" / seq / name), np.full((H, W, 3), 30 * i, np.uint8))
  scipy.io.savemat(folder / "poses_in_the_wild_data.mat", {variable: arr})
  return folder


def _builder(root):
  return piw.PosesInTheWild(data_dir=str(root / "tfds"), file_format="array_record")


def _prepare(tmp_path, manual):
  builder = _builder(tmp_path)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
  return builder


def test_fixture_reads_back_like_the_real_file(tmp_path):
  folder = write_piw(tmp_path)
  data = piw.poses_in_the_wild.load_piw(folder / "poses_in_the_wild_data.mat")
  assert len(data) == 3 and data[0].point.shape == (8, 2) and data[0].visible.shape == (8,)
  assert data[0].im == "selected_seqs/seq07/The-Terminal-3768-3785-00235.png"


def test_build(tmp_path):
  write_piw(tmp_path)
  assert _prepare(tmp_path, tmp_path).is_prepared()
  src = tfds.data_source("poses_in_the_wild", split="test", data_dir=str(tmp_path / "tfds"))
  assert len(src) == 3
  ex = src[0]
  assert ex["image"].shape == (H, W, 3)
  np.testing.assert_allclose(ex["joints"][1], [30, 10])     # person's right wrist, 0-based.
  np.testing.assert_allclose(ex["joints"][5], [14, 9])      # right shoulder = PiW 5.
  np.testing.assert_allclose(ex["joints"][6], [24, 9])      # left shoulder = PiW 2.
  assert np.isnan(ex["joints"][0]).all() and not ex["visible"][0]   # no head point.
  assert ex["visible"][1:].all()
  np.testing.assert_allclose(ex["joints_full"], _point(0) - 1)      # chin, torso kept.
  assert (int(ex["video_id"]), int(ex["frame_index"])) == (7, 235)
  assert (int(src[2]["video_id"]), int(src[2]["frame_index"])) == (20, 279)
  box = ex["box"]
  assert box[0] <= 12 and box[2] >= 30 and box[1] <= 4 and box[3] >= 29
  # [-1, -1] -> NaN, invisible.
  ex1 = src[1]
  assert not ex1["visible"][2] and np.isnan(ex1["joints"][2]).all()
  assert not ex1["visible_full"][3] and np.isnan(ex1["joints_full"][3]).all()
  # Flagged invisible with coordinates: masked in the core joints, coordinates kept in full.
  ex2 = src[2]
  assert not ex2["visible"][3] and np.isnan(ex2["joints"][3]).all()
  np.testing.assert_allclose(ex2["joints_full"][5], _point(2)[5] - 1)
  assert not ex2["visible_full"][5]


def test_seq_and_frame():
  assert piw.seq_and_frame("selected_seqs/seq73/The-Terminal-6452-6463-00089.png") == (73, 89)
  with pytest.raises(InputError):
    piw.seq_and_frame("frames/img.png")


def test_manual_dir_missing(tmp_path, expect_failure):
  expect_failure(_builder(tmp_path), tmp_path / "nowhere", "manual_dir")


def test_annotation_file_missing(tmp_path, expect_failure):
  (tmp_path / "poses_in_the_wild_public").mkdir()
  expect_failure(_builder(tmp_path), tmp_path, "poses_in_the_wild_data.mat not found")


def test_truncated_mat(tmp_path, expect_failure):
  mat = write_piw(tmp_path) / "poses_in_the_wild_data.mat"
  mat.write_bytes(mat.read_bytes()[:300])
  expect_failure(_builder(tmp_path), tmp_path, "truncated")


def test_mat_from_another_dataset(tmp_path, expect_failure):
  write_piw(tmp_path, variable="examples")
  expect_failure(_builder(tmp_path), tmp_path, r"no variable 'piw_data' \(found \['examples'\]\)")
  write_piw(tmp_path / "b", fields=("im", "coords", "visible"))
  expect_failure(_builder(tmp_path / "b"), tmp_path / "b", r"lacks fields \['point'\]")


def test_listed_image_missing(tmp_path, expect_failure):
  folder = write_piw(tmp_path)
  (folder / "selected_seqs/seq20/The-Terminal-3768-3785-00279.png").unlink()
  expect_failure(_builder(tmp_path), tmp_path, "00279.png.*listed in")


def test_image_fails_to_decode(tmp_path, expect_failure):
  folder = write_piw(tmp_path)
  (folder / "selected_seqs/seq07/The-Terminal-3768-3785-00236.png").write_bytes(b"\x89PNG bad")
  expect_failure(_builder(tmp_path), tmp_path, "00236.png.*decodable")


def test_round_trip_to_frame_pixels(tmp_path, assert_round_trip):
  _prepare(tmp_path, write_piw(tmp_path / "m"))
  assert_round_trip(tfds.data_source("poses_in_the_wild", split="test", data_dir=str(tmp_path / "tfds")))
