"""bbc_pose builder on a made-up download shaped like the real one (written to tmp dirs).

Fixture: ``bbcpose.mat`` saved by scipy as a 1×K MATLAB struct array (what
``loadmat`` returns for the real file: ``mat['bbcpose']`` of shape (1, K), each
field a nested array), 1-based coordinates, -999 and NaN joints, 10/5/5
train/val/test entries plus 2 Extended entries with another ``source``, and
small JPEG frames ``<videoName>/<n>.jpg``.
"""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds

import flowpose_jax.data_builders.bbc_pose as bp
from flowpose_jax.errors import InputError

H, W = 64, 96  # fixture frame size (real: 640x360-ish; the builder reads sizes from the jpgs)
FIELDS = ("videoName", "type", "source", "train_frames", "train_joints", "test_frames", "test_joints")
N_TRAIN_FRAMES, N_TEST_FRAMES, N_EXT_FRAMES = 3, 2, 2
EXT_SOURCE = "charles13"
KNOWN = {"video": 0, "frame": 5, "joint": 1, "xy_1b": (41.0, 22.5)}  # a stored 1-based value
SENTINEL_AT = (1, 0, 3)  # (video, frame position, joint) stored as -999
NAN_AT = (11, 1, 6)  # in a val video's test joints


def _pose_1b(rng) -> np.ndarray:
  """[7, 2] plausible 1-based joints in a W×H frame; right wrist on the image's left."""
  cx, cy = rng.uniform(40, 56), rng.uniform(22, 28)
  offsets = np.array([[0, -12], [-16, 14], [16, 14], [-13, 6], [13, 6], [-9, -2], [9, -2]], float)
  return np.round((offsets + [cx, cy] + rng.uniform(-1.5, 1.5, (7, 2))) * 4) / 4


def _joints_field(poses: list[np.ndarray]) -> np.ndarray:
  return np.stack(poses, -1).transpose(1, 0, 2) if poses else np.zeros((0, 0))  # [2, 7, N]


def write_fixture(root, *, layout: str = "name", n_ext: int = 2) -> dict:
  """Writes bbcpose.mat + frames under root; returns the expected 1-based joints per (video, frame)."""
  rng = np.random.default_rng(0)
  os.makedirs(root, exist_ok=True)
  k = bp.NUM_ORIGINAL + n_ext
  struct = np.empty((1, k), dtype=[(f, object) for f in FIELDS])
  expected = {}
  for i in range(k):
    typ = "train" if i < 10 or i >= bp.NUM_ORIGINAL else ("val" if i < 15 else "test")
    name = f"video_{i + 1:02d}" if i < bp.NUM_ORIGINAL else f"ext_{i + 1:02d}"
    n_train = N_EXT_FRAMES if i >= bp.NUM_ORIGINAL else N_TRAIN_FRAMES
    train_frames = 5 + np.arange(n_train)  # consecutive, as in real train videos
    test_frames = 100 + 7 * np.arange(N_TEST_FRAMES) if typ != "train" else np.zeros(0)
    train_poses = [_pose_1b(rng) for _ in train_frames]
    test_poses = [_pose_1b(rng) for _ in test_frames]
    if i == KNOWN["video"]:
      train_poses[0][KNOWN["joint"]] = KNOWN["xy_1b"]
    if i == SENTINEL_AT[0]:
      train_poses[SENTINEL_AT[1]][SENTINEL_AT[2]] = -999
    if i == NAN_AT[0]:
      test_poses[NAN_AT[1]][NAN_AT[2]] = np.nan
    struct[0, i] = (name, typ, "buehler11" if i < bp.NUM_ORIGINAL else EXT_SOURCE,
                    train_frames.astype(float)[None], _joints_field(train_poses),
                    test_frames.astype(float)[None] if len(test_frames) else np.zeros((0, 0)),
                    _joints_field(test_poses))
    folder = os.path.join(root, name if layout == "name" else str(i + 1))
    os.makedirs(folder, exist_ok=True)
    labelled = zip(train_frames, train_poses) if typ == "train" else zip(test_frames, test_poses)
    for f in list(train_frames) + list(test_frames):  # val/test also get their train frames' jpgs
      texture = cv2.blur(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), (5, 5))
      cv2.imwrite(os.path.join(folder, f"{int(f)}.jpg"), texture)
    for f, pose in labelled:
      expected[(i, int(f))] = pose
  scipy.io.savemat(os.path.join(root, "bbcpose.mat"), {"bbcpose": struct})
  return expected


def _build(config: str, data_dir, manual_dir, **kw):
  bp.build(config, str(data_dir), str(manual_dir), **kw)
  return {s: tfds.data_source(f"bbc_pose/{config}", split=s, data_dir=str(data_dir)) for s in bp.SPLITS}


@pytest.fixture(scope="module")
def manual(tmp_path_factory):
  root = tmp_path_factory.mktemp("bbc_manual")
  return root, write_fixture(root)


@pytest.fixture(scope="module")
def original(manual, tmp_path_factory):
  return _build("original", tmp_path_factory.mktemp("tfds_orig"), manual[0])


@pytest.fixture(scope="module")
def extended(manual, tmp_path_factory):
  return _build("extended", tmp_path_factory.mktemp("tfds_ext"), manual[0])


def _text(value) -> str:
  return value.decode() if isinstance(value, bytes) else str(value)  # Text reads back as bytes


def _records(src):
  return [src[i] for i in range(len(src))]


def test_fixture_round_trips_like_the_real_file(manual):
  mat = scipy.io.loadmat(os.path.join(manual[0], "bbcpose.mat"))
  s = mat["bbcpose"]
  assert s.shape == (1, bp.NUM_ORIGINAL + 2) and set(FIELDS) <= set(s.dtype.names)
  assert s[0][0][1][0] == "train" and s[0][0][4].shape == (2, 7, N_TRAIN_FRAMES)  # mmpose's indexing
  assert s[0][12][6].shape == (2, 7, N_TEST_FRAMES)


def test_counts_per_split(original, extended):
  assert {s: len(original[s]) for s in bp.SPLITS} == {"train": 30, "validation": 10, "test": 10}
  assert {s: len(extended[s]) for s in bp.SPLITS} == {"train": 34, "validation": 10, "test": 10}
  ext = [r for r in _records(extended["train"]) if _text(r["label_source"]) == EXT_SOURCE]
  assert len(ext) == 4 and {int(r["video_id"]) for r in ext} == {20, 21}
  assert all(_text(r["label_source"]) == "buehler11" for r in _records(original["train"]))


def test_video_frame_order_and_ids(original):
  recs = _records(original["train"])
  order = [(int(r["video_id"]), int(r["frame_index"])) for r in recs]
  assert order == sorted(order) and order[:3] == [(0, 5), (0, 6), (0, 7)]
  assert _text(recs[0]["video_name"]) == "video_01"
  assert {int(r["video_id"]) for r in _records(original["validation"])} == set(range(10, 15))
  assert {int(r["video_id"]) for r in _records(original["test"])} == set(range(15, 20))
  assert [int(r["frame_index"]) for r in _records(original["test"])[:2]] == [100, 107]


def test_coordinates_are_zero_based(original, manual):
  expected = manual[1]
  rec = original["train"][0]
  np.testing.assert_allclose(rec["joints"][KNOWN["joint"]], np.array(KNOWN["xy_1b"]) - 1)
  for r in _records(original["test"]):
    gt = expected[(int(r["video_id"]), int(r["frame_index"]))] - 1
    np.testing.assert_allclose(r["joints"][r["visible"]], gt[r["visible"]], atol=1e-5)
  assert rec["image"].shape == (H, W, 3) and rec["image"].dtype == np.uint8


def test_missing_joints_are_nan_and_invisible(original):
  v, t, j = SENTINEL_AT
  rec = original["train"][v * N_TRAIN_FRAMES + t]
  assert not rec["visible"][j] and np.all(np.isnan(rec["joints"][j]))
  assert rec["visible"].sum() == 6
  v, t, j = NAN_AT
  rec = original["validation"][(v - 10) * N_TEST_FRAMES + t]
  assert not rec["visible"][j] and np.all(np.isnan(rec["joints"][j]))
  for split in bp.SPLITS:  # never (0, 0) or the sentinel
    for r in _records(original[split]):
      assert np.all(np.isfinite(r["joints"][r["visible"]]))
      assert not np.any(r["joints"] == -1000) and not np.any((r["joints"] == 0).all(-1))


def test_box_contains_the_video_joints(original):
  for split in bp.SPLITS:
    for r in _records(original[split]):
      x0, y0, x1, y1 = r["box"]
      pts = r["joints"][r["visible"]]
      assert np.all((pts[:, 0] > x0) & (pts[:, 0] < x1) & (pts[:, 1] > y0) & (pts[:, 1] < y1))
      assert 0 <= x0 < x1 <= W - 1 and 0 <= y0 < y1 <= H - 1
      np.testing.assert_array_equal(r["crop_matrix"], [[1, 0, 0], [0, 1, 0]])
      assert r["annotated"]


def test_round_trip_to_frame_pixels(original):
  from flowpose_jax.configs import tiny
  from flowpose_jax.data import pipeline
  from flowpose_jax.heatmaps import decode_to_frame as frame_joints_from_heatmaps
  config = tiny.get_config()
  config.input.crop = "box"
  n = 0
  for split in ("validation", "test"):
    for batch in pipeline.make_eval_batches(original[split], config, batch_size=4):
      got, _ = frame_joints_from_heatmaps(batch["targets"], batch["matrix"], config.input.stride)
      ok = (batch["weights"] > 0) & batch["_mask"][:, None]
      assert np.array_equal(ok, batch["frame_visible"] & batch["_mask"][:, None])
      np.testing.assert_allclose(got[ok], batch["frame_joints"][ok], atol=0.1)
      n += ok.sum()
  assert n == 20 * 7 - 1


def test_index_folder_layout_and_crops(tmp_path):
  """Folders named by 1-based struct index (mmpose's layout), mat in code/; crops map back to frame px."""
  write_fixture(tmp_path / "m", layout="index", n_ext=0)
  (tmp_path / "m" / "code").mkdir()
  (tmp_path / "m" / "bbcpose.mat").rename(tmp_path / "m" / "code" / "bbcpose.mat")  # the toolkit's place
  src = _build("original_crops256", tmp_path / "d", tmp_path / "m")
  assert {s: len(src[s]) for s in bp.SPLITS} == {"train": 30, "validation": 10, "test": 10}
  from flowpose_jax import heatmaps
  for r in _records(src["test"]):
    assert r["image"].shape == (256, 256, 3)
    back = heatmaps.apply_affine(r["joints"], heatmaps.invert_affine(r["crop_matrix"]))
    np.testing.assert_allclose(back[r["visible"]], r["joints_frame"][r["visible"]], atol=1e-3)
    pts = r["joints"][r["visible"]]
    assert np.all((pts > r["box"][:2]) & (pts < r["box"][2:]))
  # evaluation of a crop config scores in original frame pixels
  from flowpose_jax.configs import tiny
  from flowpose_jax.data import pipeline
  from flowpose_jax.heatmaps import decode_to_frame as frame_joints_from_heatmaps
  config = tiny.get_config()
  config.input.crop = "box"
  records = _records(src["test"])
  for b, batch in enumerate(pipeline.make_eval_batches(src["test"], config, batch_size=4)):
    got, _ = frame_joints_from_heatmaps(batch["targets"], batch["matrix"], config.input.stride)
    ok = (batch["weights"] > 0) & batch["_mask"][:, None]
    assert ok.any()
    want = np.stack([r["joints_frame"] for r in records[4 * b:4 * b + 4]])
    n = len(want)
    np.testing.assert_allclose(got[:n][ok[:n]], want[ok[:n]], atol=0.1)  # frame, not crop, px


def test_context_frames_around_val_test(tmp_path, manual):
  """``*_ctx14``: unannotated neighbours of val/test frames whose jpg exists, in frame order."""
  shutil.copytree(manual[0], tmp_path / "m")
  folder = tmp_path / "m" / "video_11"
  for f in (99, 101, 108, 200):  # 200 is beyond ±14 of 100 and 107
    shutil.copy(folder / "100.jpg", folder / f"{f}.jpg")
  src = _build("original_ctx14", tmp_path / "d", tmp_path / "m")
  assert len(src["train"]) == 30 and len(src["test"]) == 10
  recs = [r for r in _records(src["validation"]) if int(r["video_id"]) == 10]
  assert [int(r["frame_index"]) for r in recs] == [99, 100, 101, 107, 108]
  assert [bool(r["annotated"]) for r in recs] == [False, True, False, True, False]
  for r in recs:
    assert r["visible"].any() == bool(r["annotated"])
    assert np.isnan(r["joints"]).all() != bool(r["annotated"])
  np.testing.assert_array_equal(recs[0]["box"], recs[1]["box"])  # one box per video


# ------------------------------------------------------------------------- bad input

def _expect_failure(data_dir, manual_dir, *needles):
  with pytest.raises(InputError) as e:
    bp.build("original", str(data_dir), str(manual_dir))
  for needle in needles:
    assert str(needle) in str(e.value), str(e.value)
  assert not tfds.builder("bbc_pose/original", data_dir=str(data_dir)).is_prepared()
  return str(e.value)


def test_manual_dir_missing_or_empty(tmp_path):
  _expect_failure(tmp_path / "d", tmp_path / "nope", "nope", "manual_dir")
  (tmp_path / "empty").mkdir()
  _expect_failure(tmp_path / "d", tmp_path / "empty", "empty", "manual_dir")


def test_mat_missing(tmp_path):
  (tmp_path / "m" / "video_01").mkdir(parents=True)
  _expect_failure(tmp_path / "d", tmp_path / "m", "bbcpose.mat", "download")


def test_mat_truncated(tmp_path, manual):
  shutil.copytree(manual[0], tmp_path / "m")
  mat = tmp_path / "m" / "bbcpose.mat"
  data = mat.read_bytes()
  mat.write_bytes(data[:len(data) // 2])
  _expect_failure(tmp_path / "d", tmp_path / "m", str(mat), "re-download")


def test_mat_from_another_dataset(tmp_path, manual):
  shutil.copytree(manual[0], tmp_path / "m")
  mat = tmp_path / "m" / "bbcpose.mat"
  scipy.io.savemat(mat, {"examples": np.zeros((2, 3))})
  _expect_failure(tmp_path / "d", tmp_path / "m", str(mat), "'bbcpose'", "examples")
  wrong = np.empty((1, 2), dtype=[("videoName", object), ("coords", object)])
  wrong[0, 0] = ("a", np.zeros((2, 7)))
  wrong[0, 1] = ("b", np.zeros((2, 7)))
  scipy.io.savemat(mat, {"bbcpose": wrong})
  _expect_failure(tmp_path / "d", tmp_path / "m", str(mat), "train_joints", "coords")


def test_missing_frame(tmp_path, manual):
  shutil.copytree(manual[0], tmp_path / "m")
  gone = tmp_path / "m" / "video_16" / "107.jpg"
  gone.unlink()
  (tmp_path / "m" / "video_17" / "100.jpg").unlink()
  _expect_failure(tmp_path / "d", tmp_path / "m", str(gone), "2 frame(s)")


def test_undecodable_frame(tmp_path, manual):
  shutil.copytree(manual[0], tmp_path / "m")
  bad = tmp_path / "m" / "video_03" / "6.jpg"
  bad.write_bytes(b"\xff\xd8 not really a jpeg")
  _expect_failure(tmp_path / "d", tmp_path / "m", str(bad), "re-download")


# ------------------------------------------------------------------------- beam

def test_beam_build_matches_local(tmp_path, manual, original):
  beam = pytest.importorskip("apache_beam")
  src = _build("original", tmp_path / "d", manual[0], use_beam=True,
               beam_runner=beam.runners.DirectRunner())
  for split in bp.SPLITS:
    a, b = _records(original[split]), _records(src[split])
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
      assert (ra["video_id"], ra["frame_index"]) == (rb["video_id"], rb["frame_index"])
      np.testing.assert_array_equal(ra["image"], rb["image"])
      np.testing.assert_array_equal(ra["joints"], rb["joints"])
