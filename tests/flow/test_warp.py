"""Tests of the differentiable bilinear warp (flowpose_jax.flow.warp)."""

import cv2
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import ndimage

from flowpose_jax import heatmaps
from flowpose_jax.data.synthetic import render_video
from flowpose_jax.data.windows import flows_to_heatmap
from flowpose_jax.flow import warp
from tests.data.signer_parts import JOINT_PARTS

IDENTITY = np.array([[1, 0, 0], [0, 1, 0]], np.float32)


def _heatmap_flow(flow, stride):
  """[S, S, 2] input-px flow -> [S/stride, S/stride, 2] heatmap-px flow (identity affine)."""
  return flows_to_heatmap(flow[None], IDENTITY, flow.shape[0], stride)[0][0]


def _rand(seed, shape, lo=-1.0, hi=1.0):
  return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


def _scipy_warp(maps, flow, mode):
  """Exact reference: [H, W, C] maps, [H, W, 2] flow."""
  h, w = maps.shape[:2]
  yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
  coords = [yy + flow[..., 1], xx + flow[..., 0]]
  return np.stack([ndimage.map_coordinates(maps[..., c].astype(np.float64), coords, order=1,
                                           mode=mode, cval=0.0)
                   for c in range(maps.shape[-1])], -1)


def test_zero_flow_is_identity():
  maps = _rand(0, (2, 8, 9, 3))
  out, valid = warp(jnp.asarray(maps), jnp.zeros((2, 8, 9, 2)))
  np.testing.assert_array_equal(np.asarray(out), maps)
  np.testing.assert_array_equal(np.asarray(valid), 1.0)


def test_integer_flow_shifts_away_from_borders():
  maps = _rand(1, (1, 10, 12, 2))
  flow = np.zeros((1, 10, 12, 2), np.float32)
  flow[..., 0], flow[..., 1] = 2.0, -1.0  # output (x, y) reads (x+2, y-1)
  out, valid = warp(jnp.asarray(maps), jnp.asarray(flow))
  out, valid = np.asarray(out), np.asarray(valid)
  np.testing.assert_allclose(out[0, 1:, :-2], maps[0, :-1, 2:], atol=1e-6)
  np.testing.assert_array_equal(out[0, 0], 0.0)  # y-1 = -1: off the image
  np.testing.assert_array_equal(out[0, :, -2:], 0.0)
  assert valid[0, 0].sum() == 0 and valid[0, :, -2:].sum() == 0
  np.testing.assert_array_equal(valid[0, 1:, :-2], 1.0)


def test_half_pixel_averages_neighbours():
  maps = _rand(2, (1, 6, 7, 1))
  flow = np.zeros((1, 6, 7, 2), np.float32)
  flow[..., 0] = 0.5
  out = np.asarray(warp(jnp.asarray(maps), jnp.asarray(flow))[0])
  np.testing.assert_allclose(out[0, :, :-1], 0.5 * (maps[0, :, :-1] + maps[0, :, 1:]), atol=1e-6)
  # Half a pixel past the last column: half the edge value (zero padding).
  np.testing.assert_allclose(out[0, :, -1], 0.5 * maps[0, :, -1], atol=1e-6)


def test_border_rule_and_valid():
  maps = np.ones((1, 5, 5, 1), np.float32)
  flow = np.zeros((1, 5, 5, 2), np.float32)
  flow[0, 2, 2] = (-2.25, 0.0)  # sample x = -0.25: 0.75 of pixel 0, 0.25 of padding
  flow[0, 2, 3] = (1.0, 0.0)  # sample x = 4 = W-1 exactly: inside
  flow[0, 1, 1] = (np.nan, 0.0)
  out, valid = (np.asarray(a)[0, ..., 0] for a in warp(jnp.asarray(maps), jnp.asarray(flow)))
  assert out[2, 2] == pytest.approx(0.75) and valid[2, 2] == 0
  assert out[2, 3] == pytest.approx(1.0) and valid[2, 3] == 1
  assert out[1, 1] == 0 and valid[1, 1] == 0


def test_matches_scipy_exact_bilinear():
  maps = _rand(3, (2, 16, 20, 3))
  flow = _rand(4, (2, 16, 20, 2), -4, 4)
  out, valid = (np.asarray(a) for a in jax.jit(warp)(jnp.asarray(maps), jnp.asarray(flow)))
  for b in range(2):
    inside = valid[b, ..., 0] > 0
    assert inside.mean() > 0.5
    ref = _scipy_warp(maps[b], flow[b], "constant")
    np.testing.assert_allclose(out[b][inside], ref[inside], atol=1e-5)
    # Zero padding everywhere = scipy's 'grid-constant'.
    np.testing.assert_allclose(out[b], _scipy_warp(maps[b], flow[b], "grid-constant"), atol=1e-5)


def test_matches_cv2_remap_within_fixed_point_tolerance():
  maps = _rand(5, (1, 24, 24, 3))
  flow = _rand(6, (1, 24, 24, 2), -3, 3)
  out = np.asarray(warp(jnp.asarray(maps), jnp.asarray(flow))[0])[0]
  yy, xx = np.mgrid[0:24, 0:24].astype(np.float32)
  ref = cv2.remap(maps[0], xx + flow[0, ..., 0], yy + flow[0, ..., 1], cv2.INTER_LINEAR,
                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
  span = maps.max() - maps.min()
  assert np.abs(out - ref).max() <= 2e-2 * span
  assert np.abs(out - ref).max() > 0  # cv2 is not exact: the tolerance is needed


def test_grads_wrt_maps_and_flow():
  maps = jnp.asarray(_rand(7, (1, 6, 7, 2)))
  # Non-integer sample points: integer part + fraction in [0.1, 0.9].
  base = np.random.default_rng(8).integers(-2, 2, (1, 6, 7, 2)).astype(np.float32)
  frac = _rand(9, (1, 6, 7, 2), 0.1, 0.9)
  flow = jnp.asarray(base + frac)
  check_grads(lambda m: warp(m, flow)[0], (maps,), order=1, modes=["rev"], eps=1e-3)
  check_grads(lambda f: warp(maps, f)[0], (flow,), order=1, modes=["rev"], eps=1e-3)


def _peak(maps):
  return heatmaps.decode(np.asarray(maps))[0][0, 0]


def test_translation_moves_decoded_peak():
  joint = np.array([[[30.3, 28.6]]], np.float32)
  hm = heatmaps.encode(joint, np.ones((1, 1), bool), size=64)
  d = np.array([3.7, -2.2], np.float32)
  flow = np.broadcast_to(d, (1, 64, 64, 2))
  out = warp(jnp.asarray(hm), jnp.asarray(flow))[0]
  # output(x) = hm(x + d): the peak moves to joint - d.
  np.testing.assert_allclose(_peak(out), joint[0, 0] - d, atol=0.1)


def test_rotation_field_moves_decoded_peak():
  c = np.array([32.0, 32.0])
  theta = np.deg2rad(10.0)
  rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
  yy, xx = np.mgrid[0:64, 0:64].astype(np.float64)
  p = np.stack([xx, yy], -1) - c
  flow = (p @ rot.T - p)[None].astype(np.float32)  # x reads hm at c + R (x - c)
  joint = np.array([[[44.2, 25.7]]], np.float32)
  hm = heatmaps.encode(joint, np.ones((1, 1), bool), size=64)
  out = warp(jnp.asarray(hm), jnp.asarray(flow))[0]
  expected = c + rot.T @ (joint[0, 0] - c)  # R^-1 (joint - c) + c
  np.testing.assert_allclose(_peak(out), expected, atol=0.1)


def test_resampled_flow_is_consistent_with_full_resolution():
  stride = 4
  joint_in = np.array([[[130.6, 101.3]]], np.float32)  # 256-px input coordinates
  yy, xx = np.mgrid[0:256, 0:256].astype(np.float64)
  # Smooth non-uniform field: translation + slight zoom about (128, 128).
  flow = np.stack([6.0 + 0.05 * (xx - 128), -9.0 + 0.05 * (yy - 128)], -1).astype(np.float32)
  hm_full = heatmaps.encode(joint_in, np.ones((1, 1), bool), size=256, sigma=6.0)
  peak_full = _peak(warp(jnp.asarray(hm_full), jnp.asarray(flow[None]))[0])
  joint_hm = heatmaps.input_to_heatmap(joint_in, stride)
  hm = heatmaps.encode(joint_hm, np.ones((1, 1), bool), size=64)
  small = _heatmap_flow(flow, stride)
  peak = _peak(warp(jnp.asarray(hm), jnp.asarray(small[None]))[0])
  np.testing.assert_allclose(peak, heatmaps.input_to_heatmap(peak_full, stride), atol=0.1)


def test_ground_truth_flow_aligns_next_frame_heatmap():
  """Frame t+1's heatmap warped by the exact flow t -> t+1 peaks at frame t's joint.

  Checked for joints that are not occluded and whose flow is smooth over the
  Gaussian's core (within 1.5 heatmap px the flow varies by < 1 frame px).
  Elsewhere backward warping legitimately distorts the peak: a background
  pixel at the joint's t+1 position (zero flow) reads the map in place and
  makes a "ghost" peak, and fast-rotating hands shear the Gaussian at 4x
  subsampling. Those cases are what the pooling's confidence inputs are for.
  """
  stride, size = 4, 32
  errors = []
  for seed in (3, 4):
    video = render_video(seed=seed, num_frames=6, height=128, width=128)
    joints_hm = heatmaps.input_to_heatmap(video["joints"], stride)
    for t in range(5):
      hm_next = heatmaps.encode(joints_hm[t + 1:t + 2], video["visible"][t + 1:t + 2], size=size)
      flow = _heatmap_flow(video["flow"][t], stride)
      decoded = heatmaps.decode(warp(jnp.asarray(hm_next), jnp.asarray(flow[None]))[0])[0][0]
      ids, full = video["part_ids"][t], video["flow"][t]
      for j, parts in enumerate(JOINT_PARTS):
        x, y = np.rint(video["joints"][t, j]).astype(int)
        if not (video["visible"][t + 1, j] and 8 <= x < 120 and 8 <= y < 120):
          continue
        if not np.isin(ids[y - 2:y + 3, x - 2:x + 3], parts).all():
          continue  # occluded by another part
        if np.abs(full[y - 6:y + 7, x - 6:x + 7] - full[y, x]).max() > 1.0:
          continue  # flow discontinuity or fast rotation under the peak
        errors.append(np.linalg.norm(decoded[j] - joints_hm[t, j]))
  assert len(errors) >= 20, len(errors)
  assert np.median(errors) < 0.1 and max(errors) < 0.5, np.round(errors, 2)


def _flows_to_heatmap_by_definition(flows, matrix, size, stride):
  """The whole-frame definition: mask every frame pixel whose flow leaves the frame, then sample."""
  from flowpose_jax.flow import compute
  _, fh, fw = flows.shape[:3]
  ys, xs = np.mgrid[0:fh, 0:fw].astype(np.float32)
  with np.errstate(invalid="ignore"):
    inside = ((xs + flows[..., 0] >= 0) & (xs + flows[..., 0] <= fw - 1)
              & (ys + flows[..., 1] >= 0) & (ys + flows[..., 1] <= fh - 1))
  masked = np.where(inside[..., None], flows, np.nan)
  h = size // stride
  lin = np.asarray(matrix, np.float64)[:, :2]
  uv = np.stack(np.mgrid[0:h, 0:h][::-1], -1).reshape(-1, 2).astype(np.float64)
  p = (heatmaps.heatmap_to_input(uv, stride).astype(np.float64) - matrix[:, 2]) @ np.linalg.inv(lin).T
  out = np.stack([((compute.sample_bilinear(f, p[:, 0], p[:, 1]).astype(np.float64) @ lin.T) / stride)
                  .reshape(h, h, 2) for f in masked]).astype(np.float32)
  conf = np.all(np.isfinite(out), -1, keepdims=True)
  return np.where(conf, out, 0.0), conf.astype(np.float32)


def test_flows_to_heatmap_reads_only_the_taps_it_needs_and_matches_the_definition():
  """Unknown flows, flows leaving the frame, heatmap points outside the frame, a rotated flipped crop."""
  rng = np.random.default_rng(3)
  fh, fw, size, stride = 45, 80, 32, 4
  flows = rng.normal(0, 4, (5, fh, fw, 2)).astype(np.float32)
  flows[rng.random((5, fh, fw)) < 0.03] = np.nan
  angle = np.deg2rad(25)
  lin = 0.6 * np.array([[-np.cos(angle), np.sin(angle)], [np.sin(angle), np.cos(angle)]])  # flip + rotation
  shift = np.array([size / 2, size / 2]) - lin @ np.array([fw / 2 + 20, fh / 2])  # part of the crop is off-frame
  matrix = np.concatenate([lin, shift[:, None]], 1)
  got_flows, got_conf = flows_to_heatmap(flows, matrix, size, stride)
  want_flows, want_conf = _flows_to_heatmap_by_definition(flows, matrix, size, stride)
  assert 0.2 < got_conf.mean() < 0.9  # all three kinds of unknown occur
  np.testing.assert_array_equal(got_conf, want_conf)
  np.testing.assert_allclose(got_flows, want_flows, rtol=0, atol=1e-5)


def test_motion_spread_carries_a_thin_moving_limb():
  """A 2 px wide bar moving 6 px right over a static background, heatmap stride 4: the pixels beside
  the bar read the static background with spread 0, the bar's motion with spread 4; a map warped
  along it follows the bar. Unknown centres stay unknown."""
  from flowpose_jax.data.windows import spread_offsets
  size, stride = 32, 4
  flow = np.zeros((2, size, size, 2), np.float32)
  flow[1, :, 15:17, 0] = 6.0  # the bar: columns 15-16, between the heatmap pixel centres x = 4u + 1.5
  plain, _ = flows_to_heatmap(flow, IDENTITY, size, stride)
  spread, conf = flows_to_heatmap(flow, IDENTITY, size, stride, spread=4.0)
  np.testing.assert_array_equal(plain[1, ..., 0], 0.0)  # no heatmap pixel centre lies on the bar
  np.testing.assert_allclose(spread[1, :, 3:5, 0], 1.5)  # x = 13.5 and 17.5: 6 px = 1.5 heatmap px
  np.testing.assert_array_equal(spread[1, :, [2, 5], 0], 0.0)  # x = 9.5 and 21.5: the bar is > 4 px off
  np.testing.assert_array_equal(spread[1, ..., 1], 0.0)
  np.testing.assert_array_equal(spread[0], 0.0)
  np.testing.assert_array_equal(conf, 1.0)
  assert len(spread_offsets(0.0)) == 1 and len(spread_offsets(4.0)) == 25
  unknown = flow.copy()
  unknown[1, :, 13:15] = np.nan  # u = 3's own point unknown: unknown, whatever is around it
  _, conf = flows_to_heatmap(unknown, IDENTITY, size, stride, spread=4.0)
  assert conf[1, :, 3].max() == 0.0 and conf[1, :, [1, 2, 4]].min() == 1.0
