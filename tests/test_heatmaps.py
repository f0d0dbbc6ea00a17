import numpy as np
import pytest

from flowpose_jax import heatmaps


def test_round_trip_subpixel():
  rng = np.random.default_rng(0)
  joints = rng.uniform(1.0, 62.0, (64, 7, 2)).astype(np.float32)
  visible = np.ones((64, 7), bool)
  decoded, conf = heatmaps.decode(heatmaps.encode(joints, visible, size=64, sigma=1.5))
  assert np.abs(decoded - joints).max() < 0.05
  assert (conf > 0.5).all()


def test_border_joints_refined_with_one_neighbour():
  joints = np.array([[[0.3, 30.3], [-0.4, 0.2], [63.2, 10.0], [62.7, 63.4], [0.0, 0.0],
                      [63.0, 63.0], [20.0, -0.3]]], np.float32)
  decoded, _ = heatmaps.decode(heatmaps.encode(joints, np.ones((1, 7), bool)))
  assert np.abs(decoded - joints).max() < 0.01


def test_invisible_joint_empty_map_not_origin():
  joints = np.full((1, 7, 2), -999.0, np.float32)
  joints[0, 0] = (10.0, 20.0)
  visible = np.zeros((1, 7), bool)
  visible[0, 0] = True
  maps = heatmaps.encode(joints, visible)
  assert maps[0, ..., 1:].max() == 0.0
  assert maps[0, 20, 10, 0] == pytest.approx(1.0)
  _, conf = heatmaps.decode(maps)
  assert conf[0, 1:].max() == 0.0


def test_nan_joint_does_not_poison_map():
  joints = np.full((1, 7, 2), np.nan, np.float32)
  maps = heatmaps.encode(joints, np.zeros((1, 7), bool))
  assert np.isfinite(maps).all() and maps.max() == 0.0


def test_stride_transforms_invert_and_centre():
  xy = np.array([[1.5, 2.0], [0.0, 255.0]], np.float32)
  assert np.allclose(heatmaps.heatmap_to_input(heatmaps.input_to_heatmap(xy, 4), 4), xy)
  # heatmap pixel 0 covers input pixels 0..3, centred at 1.5
  assert np.allclose(heatmaps.input_to_heatmap(np.array([[1.5, 1.5]]), 4), 0.0)


def test_letterbox_matrix_maps_extent_and_inverts():
  m = heatmaps.letterbox_matrix((100, 200), None, 64)
  corners = heatmaps.apply_affine(np.array([[-0.5, -0.5], [199.5, 99.5]]), m)
  assert np.allclose(corners[:, 0], [-0.5, 63.5], atol=1e-4)
  assert np.allclose(corners[:, 1].mean(), 31.5, atol=1e-4)  # centred vertically
  pts = np.random.default_rng(1).uniform(0, 100, (5, 2))
  back = heatmaps.apply_affine(heatmaps.apply_affine(pts, m), heatmaps.invert_affine(m))
  assert np.allclose(back, pts, atol=1e-3)


def test_letterbox_box_and_bad_box():
  m = heatmaps.letterbox_matrix((480, 640), np.array([100, 50, 199, 249]), 128)
  c = heatmaps.apply_affine(np.array([[149.5, 149.5]]), m)
  assert np.allclose(c, 63.5, atol=1e-4)
  with pytest.raises(ValueError, match="x1 > x0"):
    heatmaps.letterbox_matrix((480, 640), np.array([10, 10, 5, 20]), 128)


def test_encode_rejects_bad_shapes():
  with pytest.raises(ValueError, match=r"\[N, J, 2\]"):
    heatmaps.encode(np.zeros((7, 2)), np.ones(7, bool))


def test_decode_to_frame_clips_peaks_in_the_letterbox_padding():
  frame_hw = (405, 720)  # a real Buffy frame: letterboxed into 256 with 58 px of padding below
  matrix = heatmaps.letterbox_matrix(frame_hw, None, 256)[None]
  hm = np.zeros((1, 64, 64, 7), np.float32)
  hm[0, 63, 10, :] = 1.0  # every joint peaks on the last heatmap row: inside the padding
  free, conf = heatmaps.decode_to_frame(hm, matrix, 4)
  assert free[0, :, 1].min() > 404  # unclipped it lands below the frame (y ~ 715)
  clipped, conf_clipped = heatmaps.decode_to_frame(hm, matrix, 4, frame_hw)
  np.testing.assert_allclose(clipped[0, :, 1], 404.0)
  np.testing.assert_allclose(clipped[0, :, 0], free[0, :, 0])  # x was inside: unchanged
  np.testing.assert_array_equal(conf_clipped, conf)


def test_heatmap_points_are_the_frame_positions_of_the_pixel_centres():
  matrix = heatmaps.letterbox_matrix((90, 170), None, 64)  # a wide frame, letterboxed into 64 x 64
  points = heatmaps.heatmap_points(matrix, 64, 4)
  assert points.shape == (16 * 16, 2) and points.dtype == np.float64
  # back through the affine and the stride: row-major (v, u) heatmap pixel centres
  uv = heatmaps.input_to_heatmap(heatmaps.apply_affine(points, matrix), 4)
  np.testing.assert_allclose(uv[17], [1, 1], atol=1e-4)
  np.testing.assert_allclose(uv.reshape(16, 16, 2)[3, 5], [5, 3], atol=1e-4)
  shifted = heatmaps.heatmap_points(matrix, 64, 4, np.array([[0.0, 0.0], [2.0, -1.0]]))
  assert shifted.shape == (2, 256, 2)
  np.testing.assert_array_equal(shifted[0], points)
  np.testing.assert_allclose(heatmaps.apply_affine(shifted[1], matrix) - heatmaps.apply_affine(points, matrix),
                             np.broadcast_to([2.0, -1.0], (256, 2)), atol=1e-4)
