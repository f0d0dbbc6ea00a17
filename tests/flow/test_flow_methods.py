"""Tests of the flow methods against exact flow, the contrib install hint, and forward-backward confidence."""

import cv2
import numpy as np
import pytest

from flowpose_jax.data.synthetic import L_HAND, R_UPPER, render_video
from flowpose_jax.errors import FlowposeError
from flowpose_jax.flow import compute
from flowpose_jax.flow.compute import fb_confidence, flow_between

# Median EPE (px at 128²) on the arms' pixels of render_video(0, 12, 128, 128), frames 7 -> 8, where
# the arms move 5.88 px (median): measured 2026-12 with OpenCV 5.0.0 (+ contrib) as
#   dis_ultrafast 2.81, dis_fast 3.13, dis_medium 1.34, farneback 1.23, dis_fine 0.58,
#   deepflow 2.46, tvl1 1.30, rlof 2.77, pcaflow 2.00.
# Each bound is twice that, capped at MAX_OF_ZERO_FLOW x the zero-flow EPE: a method must at least
# remove 40 % of the motion error (dis_fast, the worst, removes 47 %).
MEASURED_ARM_EPE = {"dis_ultrafast": 2.81, "dis_fast": 3.13, "dis_medium": 1.34, "farneback": 1.23,
                    "dis_fine": 0.58, "deepflow": 2.46, "tvl1": 1.30, "rlof": 2.77, "pcaflow": 2.00}
MAX_OF_ZERO_FLOW = 0.6


def _needs_method(method):
  if method in compute.CONTRIB_METHODS and not compute.contrib_available():
    pytest.skip(f"{method} needs cv2.optflow (opencv-contrib-python-headless): {compute.FLOW_EXTRA_INSTALL}")


@pytest.fixture(scope="module")
def moving_arms():
  video = render_video(0, 12, 128, 128)
  t = 7
  arms = (video["part_ids"][t] >= R_UPPER) & (video["part_ids"][t] <= L_HAND)
  return video["image"][t], video["image"][t + 1], video["flow"][t], arms


def test_every_method_has_a_measured_bound():
  assert set(MEASURED_ARM_EPE) == set(compute.METHODS)


@pytest.mark.parametrize("method", compute.METHODS)
def test_method_recovers_synthetic_arm_motion(method, moving_arms):
  _needs_method(method)
  a, b, exact, arms = moving_arms
  zero_flow = np.median(np.linalg.norm(exact[arms], axis=-1))
  assert zero_flow > 5.0  # the pair really moves
  flow = flow_between(a, b, method)
  assert flow.shape == (128, 128, 2) and flow.dtype == np.float32
  epe = np.median(np.linalg.norm(flow[arms] - exact[arms], axis=-1))
  assert epe < min(2 * MEASURED_ARM_EPE[method], MAX_OF_ZERO_FLOW * zero_flow), (method, epe, zero_flow)


def test_existing_methods_keep_their_place_and_dis_fine_is_finer():
  assert compute.METHODS[:4] == ("dis_ultrafast", "dis_fast", "dis_medium", "farneback")
  assert compute.DEFAULT_METHOD in compute.available_methods()
  assert set(compute.available_methods()) >= {"dis_ultrafast", "dis_fast", "dis_medium", "farneback", "dis_fine"}
  medium = cv2.DISOpticalFlow_create(cv2.DISOpticalFlow_PRESET_MEDIUM)
  assert compute.DIS_FINE_SETTINGS["FinestScale"] < medium.getFinestScale()


@pytest.mark.parametrize("method", compute.CONTRIB_METHODS)
def test_contrib_method_without_contrib_names_the_install(method, monkeypatch):
  monkeypatch.delattr(compute.cv2, "optflow", raising=False)
  assert not compute.contrib_available()
  assert method not in compute.available_methods()
  frame = np.zeros((16, 16), np.uint8)
  with pytest.raises(FlowposeError, match=r"cv2\.optflow.*pip install -c constraints\.txt -e '\.\[flow\]'"):
    flow_between(frame, frame + 1, method)


# ---------------------------------------------------------------- forward-backward confidence

SIZE, SIDE, X0, Y0 = 128, 40, 40, 44  # frame, square side, square's top-left corner in frame a
SHIFT = (6, 3)  # px the square moves a -> b


def _texture(seed, size, cell):
  rng = np.random.default_rng(seed)
  small = rng.uniform(0, 255, (size // cell, size // cell)).astype(np.float32)
  return np.clip(cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def _square(dx=0, dy=0):
  yy, xx = np.mgrid[0:SIZE, 0:SIZE]
  return (xx >= X0 + dx) & (xx < X0 + dx + SIDE) & (yy >= Y0 + dy) & (yy < Y0 + dy + SIDE)


@pytest.fixture(scope="module")
def occluder():
  """A textured square moving by SHIFT over a static textured background, and its regions in a."""
  background, square = _texture(0, SIZE, 8), _texture(1, SIDE, 4)
  a, b = background.copy(), background.copy()
  a[Y0:Y0 + SIDE, X0:X0 + SIDE] = square
  b[Y0 + SHIFT[1]:Y0 + SHIFT[1] + SIDE, X0 + SHIFT[0]:X0 + SHIFT[0] + SIDE] = square
  sq_a, sq_b = _square(), _square(*SHIFT)
  away = cv2.distanceTransform((~(sq_a | sq_b)).astype(np.uint8), cv2.DIST_L2, 3) > 12
  interior = np.zeros_like(away)
  interior[8:-8, 8:-8] = True  # flow estimates are poor on the frame's last few pixels
  # covered: background of a that the square hides in b; far: background > 12 px from the square.
  return a, b, dict(covered=sq_b & ~sq_a, square=sq_a, far=away & interior)


def test_fb_confidence_exact_flows_flags_only_the_covered_background(occluder):
  _, _, regions = occluder
  d = np.array(SHIFT, np.float32)
  flow_ab = np.where(_square()[..., None], d, 0).astype(np.float32)
  flow_ba = np.where(_square(*SHIFT)[..., None], -d, 0).astype(np.float32)
  conf = fb_confidence(flow_ab, flow_ba)
  assert conf.shape == (SIZE, SIZE) and conf.dtype == np.float32
  # Covered background: static in a (f = 0) but lands on the square in b (g = -d).
  assert conf[regions["covered"]].max() < 1e-6
  # The whole square, its leading and trailing strips included, round-trips exactly (b's flow is
  # read where a's pixel lands, not at the same pixel), and so does the background.
  np.testing.assert_array_equal(conf[regions["square"]], 1.0)
  np.testing.assert_array_equal(conf[~regions["covered"]], 1.0)


def test_fb_confidence_computed_flows_low_where_covered_high_elsewhere(occluder):
  a, b, regions = occluder
  conf = fb_confidence(flow_between(a, b, "dis_fine"), flow_between(b, a, "dis_fine"))
  inner = cv2.erode(regions["square"].astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
  covered = conf[regions["covered"]]
  # Measured: 88 % of covered pixels below 0.5 (median 0.001), 100 % of the square's interior and
  # of the far background above it.
  assert np.median(covered) < 0.2 and np.mean(covered < 0.5) > 0.7
  assert np.mean(conf[inner] > 0.5) > 0.95 and np.median(conf[inner]) > 0.9
  assert np.mean(conf[regions["far"]] > 0.5) > 0.95 and np.median(conf[regions["far"]]) > 0.9


def test_fb_confidence_hand_computed_is_sundaram_test_at_one_half():
  f = np.broadcast_to(np.array([3.0, 4.0], np.float32), (8, 8, 2))
  g = np.broadcast_to(np.array([-2.0, -4.0], np.float32), (8, 8, 2))
  conf = fb_confidence(f, g)
  # e^2 = 1, tau^2 = 0.01 * (25 + 20) + 0.5 = 0.95: conf = 2^(-1 / 0.95); x + 3 <= 7 lands inside.
  np.testing.assert_allclose(conf[:4, :4], 2 ** (-1 / 0.95), rtol=1e-6)
  assert conf[:4, :4].max() < 0.5  # Sundaram et al.: 1 > 0.95, inconsistent
  consistent = fb_confidence(f, np.broadcast_to(np.array([-3.0, -4.7], np.float32), (8, 8, 2)))
  assert consistent[:4, :4].min() > 0.5  # e^2 = 0.49 < 0.01 * (25 + 31.09) + 0.5 = 1.06
  # Landing beyond the pixel area (x + 3 > 7.5 or y + 4 > 7.5) reads 0; at the edge it counts.
  assert (conf[:, 5:] == 0).all() and (conf[4:, :] == 0).all()
  edge = fb_confidence(np.full((4, 4, 2), 0.5, np.float32), np.full((4, 4, 2), -0.5, np.float32))
  np.testing.assert_array_equal(edge, 1.0)


def test_fb_confidence_nan_and_shapes():
  f = np.zeros((6, 6, 2), np.float32)
  f[2, 3] = np.nan
  g = np.zeros((6, 6, 2), np.float32)
  g[0, 0] = np.nan
  conf = fb_confidence(f, g)
  assert conf[2, 3] == 0 and conf[0, 0] == 0 and conf[0, 1] > 0 and conf[5, 5] == 1
  with pytest.raises(ValueError, match="both be"):
    fb_confidence(f, g[:5])
