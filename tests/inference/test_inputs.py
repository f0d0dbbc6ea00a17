"""Frames and boxes in, network inputs out: the checks name the bad value and the fix."""

import numpy as np
import pytest

from flowpose_jax import heatmaps
from flowpose_jax.errors import InputError
from flowpose_jax.inference import inputs

SIZE = 64


def test_joints_map_back_through_the_box():
  frame = np.zeros((200, 300, 3), np.uint8)
  box = np.array([[100, 40, 163, 103]], np.float32)  # 64x64 box
  _, mats = inputs.preprocess(frame[None], box, SIZE)
  # box centre goes to the input centre
  c = heatmaps.apply_affine(np.array([[131.5, 71.5]]), mats[0])
  assert np.allclose(c, (SIZE - 1) / 2, atol=1e-3)
  with pytest.raises(InputError, match=r"boxes must be \[T, 4\]"):
    inputs.preprocess(frame[None], np.zeros((2, 4)), SIZE)
  with pytest.raises(InputError, match=r"boxes\[0\] 300,0,350,50 does not overlap the 300x200 \(width x height\)"):
    inputs.preprocess(frame[None], np.array([[300, 0, 350, 50]]), SIZE)
  with pytest.raises(InputError, match=r"boxes\[0\] 10,0,10,50: needs x0 < x1"):
    inputs.preprocess(frame[None], np.array([[10, 0, 10, 50]]), SIZE)
  got, _ = inputs.preprocess(frame[None], np.array([[299, 199, 350, 250]]), SIZE)  # one corner pixel inside
  assert got.shape == (1, SIZE, SIZE, 3)


def test_bad_frames_are_named():
  with pytest.raises(InputError, match="wrap it as frames"):
    inputs.as_frames(np.zeros((10, 10, 3), np.uint8))
  with pytest.raises(InputError, match="dtype float32"):
    inputs.as_frames(np.zeros((1, 10, 10, 3), np.float32))
  with pytest.raises(InputError, match=r"frame 1 has shape \(10, 10\)"):
    inputs.as_frames([np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.uint8)])


def test_a_box_overlaps_the_frame_by_pixel_extents():
  hw = (200, 300)  # pixel extents x -0.5 .. 299.5, y -0.5 .. 199.5
  assert inputs.overlaps_frame([299, 199, 350, 250], hw)  # its corner pixel is the frame's
  assert inputs.overlaps_frame([-50, -50, -0.5, -0.5], hw)  # reaches half into pixel (0, 0)
  assert not inputs.overlaps_frame([300, 0, 350, 50], hw)
  assert not inputs.overlaps_frame([-50, 0, -1, 50], hw)
  assert not inputs.overlaps_frame([0, 200, 50, 250], hw)
  assert inputs.check_box([-50, -50, -0.5, -0.5], hw).dtype == np.float32
