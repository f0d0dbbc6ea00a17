"""Tests of host-side flow: estimation, composition, sampling, cache."""

import json
import os

import cv2
import numpy as np
import pytest

from flowpose_jax.data.synthetic import render_video
from flowpose_jax.flow import compute
from flowpose_jax.flow.compute import (FlowCache, compose_flows, flow_between, flow_config_key,
                                       sample_bilinear, window_flows, window_key)
from tests.data.signer_parts import JOINT_PARTS


@pytest.fixture(scope="module")
def video():
  return render_video(seed=5, num_frames=5, height=128, width=128)


def _textured(seed, size=128):
  rng = np.random.default_rng(seed)
  small = rng.uniform(0, 255, (size // 8, size // 8)).astype(np.float32)
  img = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
  return np.clip(img, 0, 255).astype(np.uint8)


def _epe(a, b, mask=None):
  e = np.linalg.norm(a - b, axis=-1)
  return np.median(e if mask is None else e[mask])


@pytest.mark.parametrize("method", compute.METHODS)
def test_flow_between_recovers_translation_with_remap_convention(method):
  if method in compute.CONTRIB_METHODS and not compute.contrib_available():
    pytest.skip(f"{method} needs cv2.optflow: {compute.FLOW_EXTRA_INSTALL}")
  a = _textured(0)
  d = np.array([2.5, -1.5], np.float32)
  yy, xx = np.mgrid[0:128, 0:128].astype(np.float32)
  # b(x) = a(x - d): content of a moves by +d, so flow a -> b is +d.
  b = cv2.remap(a, xx - d[0], yy - d[1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
  flow = flow_between(a, b, method)
  assert flow.shape == (128, 128, 2) and flow.dtype == np.float32
  inner = np.s_[16:-16, 16:-16]
  tol = 0.5 if method == "dis_ultrafast" else 0.25
  assert _epe(flow[inner], d) < tol
  # The same field backward-warps b onto a.
  back = cv2.remap(b, xx + flow[..., 0], yy + flow[..., 1], cv2.INTER_LINEAR)
  assert np.abs(back[inner].astype(float) - a[inner]).mean() < 4.0


def test_flow_between_identical_frames_is_zero_and_bad_method_raises(video):
  np.testing.assert_array_equal(flow_between(video["image"][0], video["image"][0]), 0.0)
  with pytest.raises(ValueError, match="choose one of"):
    flow_between(video["image"][0], video["image"][1], "brox")


def test_flow_between_matches_synthetic_ground_truth(video):
  flow = flow_between(video["image"][1], video["image"][2], "dis_medium")
  body = video["part_ids"][1] > 0
  assert _epe(flow, video["flow"][1], body) < 0.5


def test_sample_bilinear_exact_and_outside():
  field = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
  out = sample_bilinear(field, np.array([0.5, 3.0, -0.1, 1.25]), np.array([0.0, 2.0, 0.0, 1.5]))
  np.testing.assert_allclose(out[:2, 0], [0.5, 11.0])
  assert np.isnan(out[2, 0])
  np.testing.assert_allclose(out[3, 0], 4 * 1.5 + 1.25)
  edge = sample_bilinear(field, np.array([-3.0]), np.array([0.0]), outside="edge")
  np.testing.assert_allclose(edge[0, 0], 0.0)


def test_compose_affine_flows_is_exact():
  yy, xx = np.mgrid[0:40, 0:50].astype(np.float64)
  p = np.stack([xx, yy], -1)
  a1 = np.array([[1.02, 0.01], [-0.01, 0.99]]); t1 = np.array([1.5, -0.7])
  a2 = np.array([[0.98, -0.02], [0.015, 1.01]]); t2 = np.array([-0.4, 1.2])
  f_ab = (p @ a1.T + t1 - p).astype(np.float32)
  q = p @ a1.T + t1
  f_bc = (p @ a2.T + t2 - p).astype(np.float32)
  expected = q @ a2.T + t2 - p
  f_ac = compose_flows(f_ab, f_bc)
  inside = np.isfinite(f_ac).all(-1)
  assert inside.mean() > 0.8
  np.testing.assert_allclose(f_ac[inside], expected[inside], atol=1e-4)  # affine: bilinear exact
  outside = (q[..., 0] < 0) | (q[..., 0] > 49) | (q[..., 1] < 0) | (q[..., 1] > 39)
  np.testing.assert_array_equal(~inside, outside)


def test_track_points_follows_affine_steps_exactly():
  """Affine steps (bilinear sampling is exact): the tracked displacement is the composed affine map's,
  NaN exactly where a step samples a point outside the 50 x 40 frame."""
  yy, xx = np.mgrid[0:40, 0:50].astype(np.float64)
  p = np.stack([xx, yy], -1)
  affines = [(np.array([[1.02, 0.01], [-0.01, 0.99]]), np.array([1.5, -0.7])),
             (np.array([[0.98, -0.02], [0.015, 1.01]]), np.array([-0.4, 1.2])),
             (np.eye(2), np.array([3.0, 0.0]))]  # a target may leave the frame: NaN only once sampled there
  steps = [(p @ a.T + t - p).astype(np.float32) for a, t in affines]
  rng = np.random.default_rng(0)
  start = np.stack([rng.uniform(0, 49, 300), rng.uniform(0, 39, 300)], -1)
  tracked = list(compute.track_points(steps, start[:, 0], start[:, 1]))
  assert len(tracked) == 3 and tracked[0].shape == (300, 2)
  pos, known = start, np.ones(300, bool)
  for (a, t), got in zip(affines, tracked):
    known &= (pos[:, 0] >= 0) & (pos[:, 0] <= 49) & (pos[:, 1] >= 0) & (pos[:, 1] <= 39)  # sampled here
    pos = pos @ a.T + t
    np.testing.assert_array_equal(np.isfinite(got).all(-1), known)
    np.testing.assert_allclose(got[known], (pos - start)[known], atol=1e-4)
  assert 0.5 < known.mean() < 1.0  # some points left the frame, most stayed


def test_compose_and_track_multiply_confidence_where_the_chain_lands():
  """Flows with a confidence channel: composing gives c_ab(x) * c_bc(x + f_ab(x)) (a linear field, so the
  bilinear sample is exact), and tracking multiplies each step's confidence at the point reached."""
  yy, xx = np.mgrid[0:40, 0:50].astype(np.float32)
  f_ab = np.stack([np.full_like(xx, 2.0), np.full_like(xx, -1.0), 0.5 + 0.01 * xx], -1)
  f_bc = np.stack([np.full_like(xx, 1.0), np.full_like(xx, 0.5), 0.2 + 0.012 * xx + 0.004 * yy], -1)
  f_ac = compose_flows(f_ab, f_bc)
  assert f_ac.shape == (40, 50, 3)
  known = np.isfinite(f_ac).all(-1)
  expected = (0.5 + 0.01 * xx) * (0.2 + 0.012 * (xx + 2.0) + 0.004 * (yy - 1.0))
  np.testing.assert_allclose(f_ac[..., 2][known], expected[known], atol=1e-5)
  np.testing.assert_allclose(f_ac[..., :2][known], np.array([3.0, -0.5]) + 0 * f_ac[..., :2][known], atol=1e-5)
  np.testing.assert_allclose(compose_flows(f_ab[..., :2], f_bc[..., :2]), f_ac[..., :2], atol=1e-6)
  with pytest.raises(ValueError, match="both"):
    compose_flows(f_ab, f_bc[..., :2])
  start = np.array([[10.0, 10.0], [20.5, 30.25]])
  tracked = list(compute.track_points([f_ab, f_bc], start[:, 0], start[:, 1]))
  assert tracked[0].shape == (2, 3)
  np.testing.assert_allclose(tracked[0][:, 2], 0.5 + 0.01 * start[:, 0], atol=1e-6)
  x, y = start[:, 0], start[:, 1]
  np.testing.assert_allclose(tracked[1][:, 2], (0.5 + 0.01 * x) * (0.2 + 0.012 * (x + 2) + 0.004 * (y - 1)), atol=1e-6)
  np.testing.assert_allclose(tracked[1][:, :2], [[3.0, -0.5]] * 2, atol=1e-5)


def test_composed_ground_truth_tracks_joints_two_frames(video):
  f02 = compose_flows(video["flow"][0], video["flow"][1])
  ids = video["part_ids"]
  checked = 0
  for j, parts in enumerate(JOINT_PARTS):
    p0 = video["joints"][0, j]
    p1 = video["joints"][1, j]
    x0, y0 = np.rint(p0).astype(int)
    x1, y1 = np.rint(p1).astype(int)
    if not (2 <= min(x0, y0, x1, y1) and max(x0, y0, x1, y1) < 126):
      continue
    if not (np.isin(ids[0, y0 - 2:y0 + 3, x0 - 2:x0 + 3], parts).all()
            and np.isin(ids[1, y1 - 2:y1 + 3, x1 - 2:x1 + 3], parts).all()):
      continue
    moved = sample_bilinear(f02, np.array([p0[0]]), np.array([p0[1]]))[0]
    np.testing.assert_allclose(moved, video["joints"][2, j] - p0, atol=0.3)
    checked += 1
  assert checked >= 3


@pytest.mark.parametrize("mode", compute.MODES)
def test_window_flows_shapes_centre_and_direction(video, mode):
  flows = window_flows(video["image"], centre=2, n=2, method="dis_fast", mode=mode)
  assert flows.shape == (5, 128, 128, 2)
  np.testing.assert_array_equal(flows[2], 0.0)
  body = video["part_ids"][2] > 0
  # Offset +1 ~ GT flow 2 -> 3; offset -1 ~ inverse direction of GT 1 -> 2 (roughly).
  assert _epe(flows[3], video["flow"][2], body) < 0.75
  direct = flow_between(video["image"][2], video["image"][0], "dis_fast")
  if mode == "direct":
    np.testing.assert_array_equal(flows[0], direct)
  with pytest.raises(ValueError, match="clip the window"):
    window_flows(video["image"], centre=1, n=2, mode=mode)


@pytest.mark.parametrize("mode", compute.MODES)
def test_window_flows_fb_confidence_channel(video, mode):
  """confidence="fb" adds a channel and changes no flow: direct pairs are tested against their reverse
  flow, composed chains multiply their steps' tests; the centre is trusted fully."""
  plain = window_flows(video["image"], centre=2, n=2, method="dis_fast", mode=mode)
  fb = window_flows(video["image"], centre=2, n=2, method="dis_fast", mode=mode, confidence="fb")
  assert fb.shape == (5, 128, 128, 3)
  np.testing.assert_array_equal(fb[..., :2], plain)
  np.testing.assert_array_equal(fb[2, ..., 2], 1.0)
  conf = fb[..., 2]
  assert np.isfinite(conf[[0, 1, 3, 4]]).mean() > 0.8
  assert np.nanmin(conf) >= 0.0 and np.nanmax(conf) <= 1.0
  one_step = compute.with_fb_confidence(flow_between(video["image"][2], video["image"][3], "dis_fast"),
                                        flow_between(video["image"][3], video["image"][2], "dis_fast"))
  np.testing.assert_array_equal(fb[3], one_step)  # one step: both modes test the same pair
  if mode == "direct":
    pair = compute.fb_confidence(plain[0], flow_between(video["image"][0], video["image"][2], "dis_fast"))
    np.testing.assert_array_equal(fb[0, ..., 2], pair)
  else:  # two steps compound: never more trusted than the first step alone
    first = window_flows(video["image"], centre=2, n=1, method="dis_fast", mode=mode, confidence="fb")
    known = np.isfinite(fb[4, ..., 2])
    assert np.all(fb[4, ..., 2][known] <= first[2, ..., 2][known] + 1e-6)
  with pytest.raises(ValueError, match="confidence"):
    window_flows(video["image"], centre=2, n=2, confidence="exact")


def test_flow_cache_round_trip_and_config_isolation(tmp_path):
  key = flow_config_key("dis_medium", "direct", 256, 256)
  cache = FlowCache(str(tmp_path), key)
  flow = np.random.default_rng(0).normal(size=(3, 8, 8, 2)).astype(np.float32)
  assert cache.load("vid/1", window_key(10, 1)) is None
  path = cache.save("vid/1", window_key(10, 1), flow)
  assert os.path.basename(os.path.dirname(os.path.dirname(path))) == f"flow-{cache.digest}"
  np.testing.assert_array_equal(cache.load("vid/1", window_key(10, 1)), flow)
  with open(os.path.join(cache.directory, "config.json")) as f:
    assert json.load(f)["method"] == "dis_medium"
  assert not [n for n in os.listdir(os.path.dirname(path)) if n.startswith(".tmp-")]
  other = FlowCache(str(tmp_path), flow_config_key("dis_fast", "direct", 256, 256))
  assert other.directory != cache.directory
  assert other.load("vid/1", window_key(10, 1)) is None
  calls = []
  got = other.get_or_compute("vid/1", "video", lambda: calls.append(1) or flow)
  got2 = other.get_or_compute("vid/1", "video", lambda: calls.append(1) or flow)
  assert len(calls) == 1
  np.testing.assert_array_equal(got, got2)
