"""Pose drawing, heatmap overlay and montage."""

import numpy as np
import pytest

from flowpose_jax import visualize
from flowpose_jax.heatmaps import encode
from flowpose_jax.joints import JOINT_NAMES

J = len(JOINT_NAMES)
JOINTS = np.array([[128, 40], [60, 200], [196, 200], [70, 140], [186, 140], [90, 90], [166, 90]],
                  np.float32)


def _changed_near(before, after, xy, radius=2):
  x, y = int(round(xy[0])), int(round(xy[1]))
  patch = np.s_[y - radius:y + radius + 1, x - radius:x + radius + 1]
  return np.any(before[patch] != after[patch])


def test_draw_pose_marks_joints_keeps_shape_and_input():
  image = np.full((256, 256, 3), 30, np.uint8)
  original = image.copy()
  out = visualize.draw_pose(image, JOINTS)
  assert out.shape == image.shape and out.dtype == np.uint8
  np.testing.assert_array_equal(image, original)
  for xy in JOINTS:
    assert _changed_near(image, out, xy)
  assert not _changed_near(image, out, (240, 10))  # far from the skeleton
  # Person's right side orange, left side blue.
  r = out[int(JOINTS[1, 1]), int(JOINTS[1, 0])]
  l = out[int(JOINTS[2, 1]), int(JOINTS[2, 0])]
  np.testing.assert_array_equal(r, visualize.RIGHT_COLOR)
  np.testing.assert_array_equal(l, visualize.LEFT_COLOR)


def test_hidden_low_confidence_and_nan_joints_not_drawn():
  image = np.zeros((256, 256, 3), np.uint8)
  joints = JOINTS.copy()
  joints[0] = np.nan
  visible = np.ones(J, bool)
  visible[1] = False
  confidence = np.ones(J)
  confidence[2] = 0.01
  out = visualize.draw_pose(image, joints, confidence, visible, min_confidence=0.5)
  assert not _changed_near(image, out, JOINTS[1])
  assert not _changed_near(image, out, JOINTS[2])
  assert _changed_near(image, out, JOINTS[5])


def test_gt_drawn_in_other_style():
  image = np.zeros((128, 128, 3), np.uint8)
  gt = JOINTS / 2
  out = visualize.draw_pose(image, np.full((J, 2), np.nan), gt=gt)
  assert _changed_near(image, out, gt[3], radius=3)
  assert np.all(out[..., 0] == out[..., 1])  # white: grey-level only


def test_line_width_scales_with_image_size():
  small = visualize.draw_pose(np.zeros((128, 128, 3), np.uint8), JOINTS / 2)
  large = visualize.draw_pose(np.zeros((512, 512, 3), np.uint8), JOINTS * 2)
  # Fraction of strongly drawn pixels (ignoring the anti-aliased fringe) is
  # size-independent; a fixed width would make it 4x smaller at 4x the size.
  frac_small = np.mean(small.max(-1) > 128)
  frac_large = np.mean(large.max(-1) > 128)
  assert frac_large == pytest.approx(frac_small, rel=0.3)


def test_heatmap_overlay_marks_peak_only():
  image = np.full((128, 128, 3), 100, np.uint8)
  joints = np.zeros((1, J, 2))
  joints[0, 0] = (8, 20)  # 32 grid, stride 4: image px (33.5, 81.5)
  visible = np.zeros((1, J), bool)
  visible[0, 0] = True
  hm = encode(joints, visible, size=32)[0]
  out = visualize.heatmap_overlay(image, hm)
  assert out.shape == image.shape and out.dtype == np.uint8
  assert np.abs(out[81, 33].astype(int) - 100).max() > 50  # strong colour at the peak
  np.testing.assert_array_equal(out[5, 120], image[5, 120])  # cold area untouched
  np.testing.assert_array_equal(visualize.heatmap_overlay(image, np.zeros((8, 8, J))), image)


def test_montage_grid():
  tiles = [np.full((10, 20, 3), v, np.uint8) for v in (0, 50, 100)] + [np.zeros((5, 5), np.uint8)]
  out = visualize.montage(tiles, cols=3, pad=2)
  assert out.shape == (2 * 12 + 2, 3 * 22 + 2, 3) and out.dtype == np.uint8
  assert np.all(out[2:12, 24:44] == 50)
  assert np.all(out[0, :] == visualize.MONTAGE_PAD_VALUE)
  with pytest.raises(ValueError):
    visualize.montage([], cols=2)
