"""lsp builder: fixtures in both published layouts (LSP 3 x 14 x N, LSP-extended 14 x 3 x N), bad input,
and the real LSP-extended copy at ~/data/lspet when there is one."""

import pathlib

import cv2
import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds

from flowpose_jax import joints as joints_lib
from flowpose_jax.data_builders import lsp

H, W = 40, 56
LSPET = pathlib.Path("~/data/lspet").expanduser()
CONFIG = {c.name: c for c in lsp.Lsp.BUILDER_CONFIGS}
RIGHT_WRIST, NECK, HEAD_TOP = 6, 12, 13  # 0-based LSP indices


def pose_1based(n: int) -> np.ndarray:
  """[n, 14, 2] distinct 1-based in-frame points: joint k of image i at (4 + 3k + i, 3 + 2k + i)."""
  k, i = np.arange(14)[None, :], np.arange(n)[:, None]
  return np.stack(np.broadcast_arrays(4.0 + 3 * k + i, 3.0 + 2 * k + i), -1).astype(np.float64)


def write_joints_mat(root, config="original", n=6, xy=None, flags=None, layout=None):
  """``root/joints.mat`` in the config's published layout; returns its path.

  Args:
    xy: [n, 14, 2] 1-based (default ``pose_1based``); flags: [n, 14] (default: every joint visible
      in that config's convention); layout: override the stored array ([14, 3, n] or [3, 14, n] -> this).
  """
  cfg = CONFIG[config]
  xy = pose_1based(n) if xy is None else np.asarray(xy, np.float64)
  flags = np.full((n, 14), cfg.visible_flag, np.float64) if flags is None else np.asarray(flags, np.float64)
  arr = np.concatenate([xy, flags[..., None]], -1)                    # [n, 14, 3]
  arr = arr.transpose(2, 1, 0) if config == "original" else arr.transpose(1, 2, 0)
  root.mkdir(parents=True, exist_ok=True)
  scipy.io.savemat(root / "joints.mat", {"joints": arr if layout is None else layout(arr)})
  return root / "joints.mat"


def write_lsp(root, config="original", n=6, xy=None, flags=None, layout=None):
  """``write_joints_mat`` + ``root/images/im<number>.jpg`` (n seeded H x W noise images); returns root."""
  write_joints_mat(root, config, n, xy, flags, layout)
  (root / "images").mkdir(exist_ok=True)
  rng = np.random.default_rng(0)
  for i in range(n):
    image = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    cv2.imwrite(str(root / "images" / CONFIG[config].image_name(i)), image)
  return root


@pytest.fixture()
def small_original(monkeypatch):
  """LSP's split rule (first half train, second half test) at 6 images instead of 2,000."""
  monkeypatch.setattr(CONFIG["original"], "splits", {"train": (0, 3), "test": (3, 6)})


def _builder(tmp_path, config):
  return lsp.Lsp(config=config, data_dir=str(tmp_path / "tfds"), file_format="array_record")


def _build(tmp_path, config, manual):
  builder = _builder(tmp_path, config)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
  return builder


def _records(tmp_path, config, split):
  src = tfds.data_source(f"lsp/{config}", split=split, data_dir=str(tmp_path / "tfds"))
  return src, [src[i] for i in range(len(src))]


def test_published_splits():
  assert CONFIG["original"].splits == {"train": (0, 1000), "test": (1000, 2000)}
  assert CONFIG["extended"].splits == {"train": (0, None)}   # LSP-extended has no test split.
  assert CONFIG["original"].image_name(0) == "im0001.jpg"
  assert CONFIG["extended"].image_name(9999) == "im10000.jpg"


def test_original_layout_splits_and_mapping(tmp_path, small_original):
  xy = pose_1based(6)
  xy[0, RIGHT_WRIST] = (11, 21)                         # 1-based (11, 21) -> 0-based (10, 20)
  xy[0, NECK], xy[0, HEAD_TOP] = (20, 10), (24, 4)       # head = midpoint (22, 7) -> (21, 6)
  flags = np.zeros((6, 14))
  flags[1, RIGHT_WRIST] = 1                              # LSP: 1 = occluded, still located
  _build(tmp_path, "original", write_lsp(tmp_path / "lsp_dataset", xy=xy, flags=flags))
  _, train = _records(tmp_path, "original", "train")
  _, test = _records(tmp_path, "original", "test")
  assert [r["filename"].decode() for r in train + test] == [f"im{i:04d}.jpg" for i in range(1, 7)]
  a, b = train[0], train[1]
  np.testing.assert_allclose(a["joints"][1], [10, 20])  # LSP index 6 (right wrist) -> our channel 1
  np.testing.assert_allclose(a["joints_full"][RIGHT_WRIST], [10, 20])
  np.testing.assert_allclose(a["joints"][0], [21, 6])
  np.testing.assert_allclose(test[0]["joints_full"], xy[3] - 1)
  for j, name in enumerate(joints_lib.JOINT_NAMES[1:], 1):
    np.testing.assert_allclose(a["joints"][j], a["joints_full"][lsp.LSP_JOINT_NAMES.index(name)])
  assert a["visible"].all() and a["visible_full"].all() and not a["occluded_full"].any()
  # Occluded but located: present (our visible), marked occluded.
  assert b["visible"][1] and b["visible_full"][RIGHT_WRIST] and b["occluded_full"][RIGHT_WRIST]
  assert b["occluded_full"].sum() == 1
  assert a["image"].shape == (H, W, 3) and int(a["video_id"]) == int(a["frame_index"]) == -1
  box = a["box"]
  assert (box[:2] <= a["joints_full"].min(0)).all() and (box[2:] >= a["joints_full"].max(0)).all()
  assert (box >= 0).all() and box[2] <= W - 1 and box[3] <= H - 1


def test_extended_layout_and_visibility(tmp_path):
  xy, flags = pose_1based(3), np.ones((3, 14))
  xy[0, RIGHT_WRIST] = (11, 21)
  flags[1, RIGHT_WRIST], xy[1, RIGHT_WRIST] = 0, (0, -26)   # LSP-extended: 0 = not visible, not located
  flags[2, NECK], xy[2, NECK] = 0, (-5, 0)
  builder = _build(tmp_path, "extended", write_lsp(tmp_path / "lspet_dataset", "extended", 3, xy, flags))
  assert list(builder.info.splits) == ["train"]
  _, (a, b, c) = _records(tmp_path, "extended", "train")
  assert [r["filename"].decode() for r in (a, b, c)] == ["im00001.jpg", "im00002.jpg", "im00003.jpg"]
  np.testing.assert_allclose(a["joints"][1], [10, 20])
  assert a["visible"].all() and not a["occluded_full"].any()
  assert not b["visible"][1] and np.isnan(b["joints"][1]).all()
  assert not b["visible_full"][RIGHT_WRIST] and np.isnan(b["joints_full"][RIGHT_WRIST]).all()
  assert b["occluded_full"][RIGHT_WRIST] and b["visible"].sum() == 6
  assert not c["visible"][0] and np.isnan(c["joints"][0]).all()   # head needs both neck and head top
  assert (b["box"][:2] <= np.nanmin(b["joints_full"], 0)).all()      # the unlocated joint is not in the box


def test_convert_is_vectorised_and_matches_one_image():
  xy, flags = pose_1based(4) - 1, np.zeros((4, 14))
  flags[2, 3] = 1
  cfg = CONFIG["original"]
  all_at_once = lsp.convert(xy, flags, cfg)
  one = lsp.convert(xy[2], flags[2], cfg)
  for key, value in one.items():
    np.testing.assert_array_equal(all_at_once[key][2], value, err_msg=key)


def test_round_trip_to_frame_pixels(tmp_path, assert_round_trip):
  _build(tmp_path, "extended", write_lsp(tmp_path / "lspet_dataset", "extended", 5))
  assert_round_trip(_records(tmp_path, "extended", "train")[0])


def test_joints_file_missing(tmp_path, expect_failure):
  manual = write_lsp(tmp_path / "lspet_dataset", "extended", 2)
  (manual / "joints.mat").unlink()
  expect_failure(_builder(tmp_path, "extended"), manual,
                 r"lspet_dataset/joints.mat not found: pass --manual_dir")


def test_other_releases_layout_names_the_config(tmp_path, expect_failure):
  manual = write_lsp(tmp_path / "lspet_dataset", "extended", 6)
  expect_failure(_builder(tmp_path, "original"), manual,
                 r"'joints' has shape \(14, 3, 6\), expected LSP's 3 x 14 x N .*"
                 r"that is LSP-extended's 14 x 3 x N "
                 r"\(lsp/extended\): build that config")


def test_unknown_layout(tmp_path, expect_failure):
  manual = write_lsp(tmp_path / "lspet_dataset", "extended", 2, layout=lambda a: a[:, :2])
  expect_failure(_builder(tmp_path, "extended"), manual,
                 r"shape \(14, 2, 2\), expected .*; neither LSP's 3 x 14 x N .* nor LSP-extended's")


def test_not_lsp_joints_file(tmp_path, expect_failure):
  manual = write_lsp(tmp_path / "lspet_dataset", "extended", 2)
  scipy.io.savemat(manual / "joints.mat", {"bbcpose": np.zeros(3)})
  expect_failure(_builder(tmp_path, "extended"), manual, r"no variable 'joints' \(found \['bbcpose'\]\)")


def test_truncated_joints_file(tmp_path, expect_failure):
  manual = write_lsp(tmp_path / "lspet_dataset", "extended", 2)
  data = (manual / "joints.mat").read_bytes()
  (manual / "joints.mat").write_bytes(data[:len(data) // 2])
  expect_failure(_builder(tmp_path, "extended"), manual, r"joints.mat: not a readable MATLAB file")


def test_unknown_flag(tmp_path, expect_failure):
  flags = np.ones((2, 14))
  flags[1, 11] = 2
  manual = write_lsp(tmp_path / "lspet_dataset", "extended", 2, flags=flags)
  expect_failure(_builder(tmp_path, "extended"), manual,
                 r"image 2 joint left_wrist has flag 2, expected 0 or 1 \(1 such flags\)")


def test_more_images_than_labels(tmp_path, expect_failure):
  manual = write_lsp(tmp_path / "lspet_dataset", "extended", 3)
  cv2.imwrite(str(manual / "images" / "im00004.jpg"), np.zeros((8, 8, 3), np.uint8))
  expect_failure(_builder(tmp_path, "extended"), manual,
                 r"images holds 4 images but \S+joints.mat labels 3 \(first unlabelled: im00004.jpg\)")


def test_image_missing(tmp_path, expect_failure):
  manual = write_lsp(tmp_path / "lspet_dataset", "extended", 3)
  (manual / "images" / "im00002.jpg").unlink()
  expect_failure(_builder(tmp_path, "extended"), manual,
                 r"images/im00002.jpg not found: \S+joints.mat labels 3 images but \S+ holds 2 \(1 missing\)")


def test_original_needs_its_2000_images(tmp_path, expect_failure):
  manual = write_lsp(tmp_path / "lsp_dataset", "original", 4)
  expect_failure(_builder(tmp_path, "original"), manual,
                 r"joints.mat labels 4 images, but lsp/original has 2000 \(train 1-1000, test 1001-2000\)")


@pytest.mark.parametrize("damage, match", [
    (lambda b: b[:len(b) // 2], r"im00002.jpg: (truncated JPEG|not a decodable image)"),
    (lambda b: b"\xff\xd8junk", r"im00002.jpg: not a decodable image"),
])
def test_damaged_image(tmp_path, expect_failure, damage, match):
  manual = write_lsp(tmp_path / "lspet_dataset", "extended", 3)
  path = manual / "images" / "im00002.jpg"
  path.write_bytes(damage(path.read_bytes()))
  expect_failure(_builder(tmp_path, "extended"), manual, match)


@pytest.mark.skipif(not (LSPET / "joints.mat").exists(),
                    reason=f"no LSP-extended copy at {LSPET} (joints.mat + images/; "
                           f"see data_builders/lsp/README.md)")
def test_real_lsp_extended(tmp_path):
  _build(tmp_path, "extended", LSPET)
  src = tfds.data_source("lsp/extended", split="train", data_dir=str(tmp_path / "tfds"))
  assert len(src) == 10000
  first = src[0]
  assert first["filename"].decode() == "im00001.jpg"
  # joints.mat(:, :, 1): right wrist (131.3116, 13.8050, 1), right ankle (0, -26.1091, 0).
  np.testing.assert_allclose(first["joints"][1], [130.31165, 12.805], atol=1e-3)
  assert not first["visible_full"][0] and first["occluded_full"][0]
  assert first["image"].shape == (105, 157, 3)
  assert src[9999]["filename"].decode() == "im10000.jpg"
