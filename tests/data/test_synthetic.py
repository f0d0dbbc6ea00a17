"""Synthetic signer renderer, label noise and the ``synthetic_signers`` TFDS builder."""

from __future__ import annotations

import dataclasses
import functools
import hashlib

import cv2
import numpy as np
import pytest

from flowpose_jax import joints as joints_lib
from flowpose_jax.data import label_noise, synthetic
from flowpose_jax.errors import ConfigError
from tests.data.signer_parts import JOINT_PARTS

H, W, T = 80, 96, 16  # non-square on purpose.
_J = {n: i for i, n in enumerate(joints_lib.JOINT_NAMES)}


@functools.lru_cache(maxsize=None)
def _video(seed: int, num_frames: int = T, height: int = H, width: int = W):
  return synthetic.render_video(seed, num_frames, height, width)


# sha256 of render_video(7, 6, 48, 64) (``_render_digest``) for each RENDER_VERSION.
RENDER_DIGESTS = {1: "184402a8e664b25cbfa76597d74581ef4fa468ebf6f102621e98d88ed00449b4"}


def _render_digest() -> str:
  video = synthetic.render_video(7, 6, 48, 64)
  digest = hashlib.sha256()
  for key in sorted(video):
    a = np.ascontiguousarray(video[key])
    digest.update(f"{key} {a.dtype} {a.shape}".encode())
    digest.update(a.tobytes())
  return digest.hexdigest()


def test_render_version_pins_the_output():
  got, version = _render_digest(), synthetic.RENDER_VERSION
  assert got == RENDER_DIGESTS.get(version), (
      f"render_video's output differs from the one recorded for RENDER_VERSION={version}: bump "
      f"flowpose_jax/data/synthetic.py RENDER_VERSION (synthetic_signers' VERSION follows, so "
      f"datasets are re-rendered) and record RENDER_DIGESTS[{version + 1}] = {got!r} in {__file__}")


def test_deterministic_and_seed_dependent():
  a = synthetic.render_video(3, 6, H, W)
  b = synthetic.render_video(3, 6, H, W)
  c = synthetic.render_video(4, 6, H, W)
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
  assert not np.array_equal(a["image"], c["image"])
  assert not np.array_equal(a["joints"], c["joints"])


def test_shapes_and_dtypes():
  v = _video(0)
  expected = {
      "image": ((T, H, W, 3), np.uint8),
      "joints": ((T, 7, 2), np.float32),
      "visible": ((T, 7), np.bool_),
      "box": ((T, 4), np.float32),
      "flow": ((T, H, W, 2), np.float32),
      "part_ids": ((T, H, W), np.uint8),
  }
  assert set(v) == set(expected)
  for k, (shape, dtype) in expected.items():
    assert v[k].shape == shape, k
    assert v[k].dtype == dtype, k
  np.testing.assert_array_equal(v["flow"][-1], 0.0)  # documented: last frame flows to itself.
  assert np.abs(v["flow"][:-1]).max() > 0.5


def test_joints_mostly_inside_and_visible_flags_consistent():
  for seed in range(6):
    v = _video(seed)
    j = v["joints"]
    inside = (j[..., 0] >= 0) & (j[..., 0] <= W - 1) & (j[..., 1] >= 0) & (j[..., 1] <= H - 1)
    np.testing.assert_array_equal(v["visible"], inside)
    assert inside.mean() > 0.8, seed
    assert inside[:, [_J["head"], _J["right_shoulder"], _J["left_shoulder"]]].all(), seed
    box = v["box"]
    assert (box[:, 0] <= box[:, 2]).all() and (box[:, 1] <= box[:, 3]).all()
    assert (box >= 0).all() and (box[:, [0, 2]] <= W - 1).all() and (box[:, [1, 3]] <= H - 1).all()
    vis_j = np.where(v["visible"][..., None], j, np.nan)
    # Visible joints lie in (or within a limb's half-thickness of) the person box.
    margin = 3.0
    assert np.nanmin(vis_j[..., 0] - box[:, None, 0]) > -margin
    assert np.nanmax(vis_j[..., 0] - box[:, None, 2]) < margin
    # The person fills 60-90 % of the frame height: head top well below 0, box reaches bottom.
    assert (box[:, 3] >= H - 2).all()
    assert (box[:, 1] > 0.05 * H).all() and (box[:, 1] < 0.5 * H).all()


def test_person_right_is_image_left():
  """BBC Pose order: the person's right shoulder is at smaller x, always."""
  for seed in range(6):
    j = _video(seed)["joints"]
    assert (j[:, _J["right_shoulder"], 0] < j[:, _J["head"], 0]).all()
    assert (j[:, _J["head"], 0] < j[:, _J["left_shoulder"], 0]).all()
    # Elbows at rest tend to be outside the shoulders' midline on their own side.
    mid = j[:, [_J["right_shoulder"], _J["left_shoulder"]], 0].mean(1)
    assert np.mean(j[:, _J["right_elbow"], 0] < mid) > 0.7
    assert np.mean(j[:, _J["left_elbow"], 0] > mid) > 0.7


def test_hands_cross_over_a_long_video():
  v = synthetic.render_video(11, 200, 64, 64)
  j = v["joints"]
  crossed = j[:, _J["right_wrist"], 0] > j[:, _J["left_wrist"], 0]
  assert 0.0 < crossed.mean() < 0.6
  head_dist = np.linalg.norm(j[:, 1:3] - j[:, :1], axis=-1).min(1)
  assert (head_dist < 0.4 * 64).any()  # a hand comes near the face.


def _warp_back(frame_next: np.ndarray, flow: np.ndarray) -> np.ndarray:
  h, w = flow.shape[:2]
  ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
  return cv2.remap(frame_next, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_REPLICATE)


def _check_flow_warps_next_frame(videos, parts):
  """The exact flow carries frame t+1 back onto frame t wherever a pixel of one
  of ``parts`` moves by > 1 px and stays that part (median error < 8 grey
  levels, under half the error of assuming no motion), in at least half the videos."""
  checked = 0
  for seed, v in videos:
    img = v["image"].astype(np.float32)
    ids = v["part_ids"]
    h, w = ids.shape[1:]
    errs, zero_errs = [], []
    for t in range(len(img) - 1):
      f = v["flow"][t]
      if not np.isfinite(f).all():  # a shot cut: nothing to carry back
        continue
      warped = _warp_back(img[t + 1], f)
      xd = np.rint(np.mgrid[0:h, 0:w][1] + f[..., 0]).astype(int)
      yd = np.rint(np.mgrid[0:h, 0:w][0] + f[..., 1]).astype(int)
      inside = (xd >= 0) & (xd < w) & (yd >= 0) & (yd < h)
      same = inside & np.isin(ids[t], parts) & (ids[t + 1][yd.clip(0, h - 1), xd.clip(0, w - 1)] == ids[t])
      moving = same & (np.hypot(f[..., 0], f[..., 1]) > 1.0)
      if moving.sum() < 20:
        continue
      errs.append(np.abs(warped - img[t]).mean(-1)[moving])
      zero_errs.append(np.abs(img[t + 1] - img[t]).mean(-1)[moving])
    if not errs:
      continue
    checked += 1
    err, zero = np.median(np.concatenate(errs)), np.median(np.concatenate(zero_errs))
    # Blur, lighting drift, noise and edges leave a few grey levels.
    assert err < 8.0, (seed, err)
    assert err < 0.5 * zero, (seed, err, zero)
  assert 2 * checked >= len(videos), (checked, len(videos))


def test_flow_warps_next_frame_onto_current():
  body = [p for p in range(1, synthetic.NUM_PARTS) if p != synthetic.OCCLUDER]
  _check_flow_warps_next_frame([(seed, _video(seed)) for seed in range(4)], body)


def _check_flow_at_joints(videos, min_fraction):
  """The flow at a joint's pixel, where the front part is one of the joint's
  own, moves the joint onto its next position."""
  n_checked = n_possible = 0
  for seed, v in videos:
    j, f, ids = v["joints"], v["flow"], v["part_ids"]
    h, w = ids.shape[1:]
    for t in range(len(j) - 1):
      if not np.isfinite(f[t]).all():  # a shot cut: no correspondence
        continue
      for k in range(joints_lib.NUM_JOINTS):
        n_possible += 1
        x, y = np.rint(j[t, k]).astype(int)
        if not (0 <= x < w and 0 <= y < h) or ids[t, y, x] not in JOINT_PARTS[k]:
          continue
        moved = j[t, k] + f[t, y, x]
        tol = 0.5 if k != _J["head"] else 1.0
        assert np.linalg.norm(moved - j[t + 1, k]) < tol, (seed, t, k)
        n_checked += 1
  assert n_checked > min_fraction * n_possible


def test_flow_at_joints_moves_joints():
  _check_flow_at_joints([(seed, _video(seed)) for seed in range(6)], 0.7)


@functools.lru_cache(maxsize=None)
def _photo(seed: int, fast_camera: bool = False):
  params = synthetic.PHOTO
  if fast_camera:  # PHOTO's camera moves < 1 px a frame at this size; less noise and blur
    params = dataclasses.replace(params, camera_pan=0.4, camera_gap_frames=(6, 12),  # to see the warp.
                                 pixel_noise=(1.0, 2.0), max_exposure_frames=0.3)
  return synthetic.render_video(seed, 8, 72, 128, params)


def test_photo_flow_follows_people_and_the_moving_camera():
  videos = [(seed, _photo(seed, fast_camera=True)) for seed in range(4)]
  # The camera pans and zooms: the background moves too, and the flow says how.
  bg = np.concatenate([v["flow"][:-1][v["part_ids"][:-1] == synthetic.BACKGROUND] for _, v in videos])
  assert np.mean(np.hypot(bg[:, 0], bg[:, 1]) > 0.2) > 0.5
  _check_flow_warps_next_frame(videos, [synthetic.BACKGROUND])
  _check_flow_warps_next_frame(videos, list(range(synthetic.TORSO, synthetic.L_HAND + 1)))
  _check_flow_at_joints(videos, 0.25)  # small people, often out of frame or behind others.


def test_photo_other_people_are_unlabelled():
  seen = 0
  for seed in range(8):
    v = _photo(seed)
    ids, box = v["part_ids"], v["box"]
    for t in range(len(ids)):
      others = ids[t] >= synthetic.NUM_PARTS
      seen += others.any()
      ys, xs = np.nonzero((ids[t] >= synthetic.TORSO) & (ids[t] <= synthetic.L_HAND))
      # The box is the labelled person's: it holds every pixel of theirs in front.
      assert xs.min() >= box[t, 0] and xs.max() <= box[t, 2], (seed, t)
      assert ys.min() >= box[t, 1] and ys.max() <= box[t, 3], (seed, t)
      # Other people stand beside the labelled one: most of their pixels lie outside that box.
      if others.sum() > 50:
        oy, ox = np.nonzero(others)
        inside = (ox >= box[t, 0]) & (ox <= box[t, 2]) & (oy >= box[t, 1]) & (oy <= box[t, 3])
        assert inside.mean() < 0.5, (seed, t)
  assert seen > 8  # some videos have other people in view.


def test_photo_knobs_are_checked():
  with pytest.raises(ConfigError, match="distractors"):
    synthetic.render_video(0, 2, 32, 32, dataclasses.replace(synthetic.PHOTO, distractors=(2, 1)))
  with pytest.raises(ConfigError, match="shot_cuts"):
    synthetic.render_video(0, 2, 32, 32, dataclasses.replace(synthetic.PHOTO, shot_cuts=(2, 1)))


def shot_cut_frames(video) -> np.ndarray:
  """First frames of shots 1.. of a rendered video: each follows a frame whose flow is all NaN."""
  return np.flatnonzero(~np.isfinite(video["flow"]).all((1, 2, 3))) + 1


@functools.lru_cache(maxsize=None)
def _cut_video(seed: int):
  params = dataclasses.replace(synthetic.PHOTO_CUTS, pixel_noise=(1.0, 2.0), max_exposure_frames=0.3)
  return synthetic.render_video(seed, 24, 72, 128, params)


def test_shot_cuts_change_the_view_and_leave_the_flow_unknown():
  videos = [(seed, _cut_video(seed)) for seed in range(6)]
  n_cuts = 0
  for seed, v in videos:
    cuts = shot_cut_frames(v)
    n_cuts += len(cuts)
    flow = v["flow"]
    # NaN exactly across a cut: all of that frame, nothing elsewhere.
    nan = ~np.isfinite(flow)
    assert nan[cuts - 1].all() and nan.sum() == nan[cuts - 1].size, seed
    bounds = np.r_[0, cuts, len(flow)]
    assert np.diff(bounds).min() >= synthetic.PHOTO_CUTS.shot_min_frames, (seed, cuts)
    # The picture jumps at a cut, far more than between neighbouring frames of a shot.
    img = v["image"].astype(np.float32)
    step = np.abs(np.diff(img, axis=0)).mean((1, 2, 3))
    within = np.delete(step, cuts - 1)
    for c in cuts:
      assert step[c - 1] > 3 * np.median(within), (seed, c, step[c - 1], np.median(within))
  assert 4 <= n_cuts <= 2 * len(videos)
  # Within shots the exact flow still carries the next frame back, body and background.
  _check_flow_warps_next_frame(videos, list(range(synthetic.TORSO, synthetic.L_HAND + 1)))
  _check_flow_at_joints(videos, 0.25)


def test_flow_is_zero_on_background():
  v = _video(1)
  bg = v["part_ids"][:-1] == synthetic.BACKGROUND
  assert bg.any()
  np.testing.assert_array_equal(v["flow"][:-1][bg], 0.0)


def _smooth_joints(num_frames: int, seed: int = 0):
  v = synthetic.render_video(seed, num_frames, 64, 64)
  return v["joints"], np.ones_like(v["visible"])


def test_corrupt_labels_jitter_statistics():
  j, vis = _smooth_joints(300)
  noisy = label_noise.corrupt_labels(j, vis, np.random.default_rng(0), jitter_px=2.0,
                                   jitter_corr_frames=4.0, swap_rate=0.0, lost_rate=0.0)
  assert noisy.dtype == np.float32 and noisy.shape == j.shape
  d = (noisy - j).reshape(len(j), -1)
  assert 1.4 < d.std() < 2.6
  lag1 = np.mean([np.corrcoef(d[1:, i], d[:-1, i])[0, 1] for i in range(d.shape[1])])
  assert lag1 > 0.5  # temporally correlated, as a tracker's drift.


def test_corrupt_labels_swaps_and_lost_tracks():
  j, vis = _smooth_joints(400, seed=2)
  rw, lw = _J["right_wrist"], _J["left_wrist"]
  swapped = label_noise.corrupt_labels(j, vis, np.random.default_rng(1), jitter_px=0.0,
                                     swap_rate=0.02, lost_rate=0.0)
  is_swap = np.all(swapped[:, rw] == j[:, lw], -1) & np.all(swapped[:, lw] == j[:, rw], -1)
  assert 0.05 < is_swap.mean() < 0.6
  runs = np.diff(np.flatnonzero(np.diff(np.r_[0, is_swap.astype(int), 0])))[::2]
  assert runs.max() >= 4  # swaps last several frames.
  np.testing.assert_array_equal(swapped[:, [_J["head"], 5, 6]], j[:, [_J["head"], 5, 6]])

  lost = label_noise.corrupt_labels(j, vis, np.random.default_rng(2), jitter_px=0.0,
                                  swap_rate=0.0, lost_rate=0.03, lost_drift_px=0.5)
  err = np.linalg.norm(lost - j, axis=-1)
  assert (err[:, [rw, lw, 3, 4]] > 5).any()
  np.testing.assert_array_equal(err[:, [0, 5, 6]], 0.0)


def test_corrupt_labels_default_noise_and_invisible_untouched():
  j, vis = _smooth_joints(200, seed=3)
  vis = vis.copy()
  vis[::7, 1] = False
  j_in = j.copy()
  noisy = label_noise.corrupt_labels(j, vis, np.random.default_rng(5),
                                   **dataclasses.asdict(label_noise.LabelNoise()))
  np.testing.assert_array_equal(j, j_in)  # input not modified.
  np.testing.assert_array_equal(noisy[::7, 1], j[::7, 1])
  med = np.median(np.linalg.norm(noisy - j, axis=-1))
  assert 0.5 < med < 5.0


# ---------------------------------------------------------------- TFDS builder


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
  from flowpose_jax.data_builders import synthetic_signers
  d = str(tmp_path_factory.mktemp("tfds"))
  synthetic_signers.build("tiny", d)
  synthetic_signers.build("tiny_noisy", d)
  return d


def _source(name, split, data_dir):
  import tensorflow_datasets as tfds
  return tfds.data_source(f"synthetic_signers/{name}", split=split, data_dir=data_dir)


def test_builder_version_follows_the_renderer():
  from flowpose_jax.data_builders import synthetic_signers
  version = synthetic_signers.SyntheticSigners.VERSION
  assert version.major == synthetic.RENDER_VERSION
  assert str(version) in synthetic_signers.SyntheticSigners.RELEASE_NOTES


def test_older_version_is_not_reused(tiny_dir, monkeypatch):
  import tensorflow_datasets as tfds
  from flowpose_jax.data_builders import synthetic_signers
  from flowpose_jax.data import sources
  from flowpose_jax.errors import InputError
  cls = synthetic_signers.SyntheticSigners
  newer = f"{synthetic.RENDER_VERSION + 1}.0.0"
  monkeypatch.setattr(cls, "VERSION", tfds.core.Version(newer))
  monkeypatch.setattr(cls, "RELEASE_NOTES", {**cls.RELEASE_NOTES, newer: "renderer changed"})
  assert not sources.is_prepared("synthetic_signers/tiny", tiny_dir)
  with pytest.raises(InputError, match=rf"{newer} is not built.*found only 1\.0\.0.*flowpose data build"):
    sources.load_source("synthetic_signers/tiny", "train", tiny_dir)


def test_builder_registered_and_configs(tiny_dir):
  import tensorflow_datasets as tfds
  from flowpose_jax.data_builders import synthetic_signers
  names = {c.name for c in synthetic_signers.CONFIGS}
  assert names == {"tiny", "demo", "large", "photo", "photo_cuts", "tiny_noisy", "demo_noisy",
                   "large_noisy", "photo_noisy", "photo_cuts_noisy"}
  builder = tfds.builder("synthetic_signers/tiny", data_dir=tiny_dir)
  assert isinstance(builder, synthetic_signers.SyntheticSigners)
  assert builder.info.disable_shuffling
  assert builder.info.splits["train"].num_examples == 4 * 12
  cfg = {c.name: c for c in synthetic_signers.CONFIGS}
  assert cfg["tiny"].noise is None and cfg["tiny_noisy"].noise is not None
  assert (cfg["large"].height, cfg["large"].width) == (256, 256)
  assert (cfg["photo"].height, cfg["photo"].width) == (144, 256)
  assert cfg["photo"].params == synthetic.PHOTO and cfg["demo"].params == synthetic.RenderParams()
  assert cfg["photo_cuts"].params == synthetic.PHOTO_CUTS and synthetic.PHOTO.shot_cuts == (0, 0)


def test_builder_tiny_reads_back_in_order(tiny_dir):
  from flowpose_jax.data_builders import synthetic_signers
  cfg = {c.name: c for c in synthetic_signers.CONFIGS}["tiny"]
  fpv, h, w = cfg.frames_per_video, cfg.height, cfg.width
  video_sets = {}
  for split in synthetic_signers.SPLITS:
    src = _source("tiny", split, tiny_dir)
    assert len(src) == cfg.num_videos[split] * fpv
    ids = np.array([(src[i]["video_id"], src[i]["frame_index"]) for i in range(len(src))])
    np.testing.assert_array_equal(ids[:, 1], np.tile(np.arange(fpv), cfg.num_videos[split]))
    np.testing.assert_array_equal(ids[:, 0], np.repeat(np.unique(ids[:, 0]), fpv))
    assert (np.diff(ids[:, 0]) >= 0).all()
    video_sets[split] = set(ids[:, 0].tolist())
    ex = src[0]
    assert ex["image"].dtype == np.uint8 and ex["image"].shape == (h, w, 3)
    assert ex["joints"].shape == (7, 2) and ex["joints"].dtype == np.float32
    assert ex["visible"].dtype == np.bool_
    np.testing.assert_array_equal(ex["joints"], ex["joints_true"])  # clean config.
  assert not video_sets["train"] & video_sets["validation"]
  assert not video_sets["train"] & video_sets["test"]
  assert not video_sets["validation"] & video_sets["test"]


def test_builder_record_matches_renderer(tiny_dir):
  from flowpose_jax.data_builders import synthetic_signers
  cfg = {c.name: c for c in synthetic_signers.CONFIGS}["tiny"]
  src = _source("tiny", "validation", tiny_dir)
  fpv = cfg.frames_per_video
  video = synthetic.render_video(synthetic_signers.video_seed("tiny", "validation", 1), fpv,
                                 cfg.height, cfg.width)
  for t in (0, 5, fpv - 1):
    ex = src[fpv + t]
    assert ex["frame_index"] == t
    np.testing.assert_array_equal(ex["joints_true"], video["joints"][t])
    np.testing.assert_array_equal(ex["box"], video["box"][t])
    np.testing.assert_array_equal(ex["visible"], video["visible"][t])
    flow = ex["flow"].astype(np.float32)
    # float16: relative error <= 2**-11 (documented in the builder).
    np.testing.assert_allclose(flow, video["flow"][t], rtol=2.0**-11, atol=1e-6)
    jpeg_err = np.abs(ex["image"].astype(float) - video["image"][t].astype(float)).mean()
    assert jpeg_err < 6.0


def test_builder_noisy_train_labels_only(tiny_dir):
  train_clean = _source("tiny", "train", tiny_dir)
  train = _source("tiny_noisy", "train", tiny_dir)
  test = _source("tiny_noisy", "test", tiny_dir)
  diffs = [np.abs(train[i]["joints"] - train[i]["joints_true"]).max() for i in range(len(train))]
  assert np.mean(np.array(diffs) > 0.01) > 0.5
  for i in range(0, len(train), 7):  # same videos as the clean config.
    np.testing.assert_array_equal(train[i]["joints_true"], train_clean[i]["joints_true"])
  for i in range(len(test)):
    np.testing.assert_array_equal(test[i]["joints"], test[i]["joints_true"])
