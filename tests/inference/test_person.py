"""Person search in whole frames (``person_boxes`` / ``joints(passes=2)``) and box smoothing.

The per-frame network is replaced (``set_runtime``) by one that really reads
its input image (``fakes.colour_net``: joint k is a disc of colour
``COLOURS[k]``, map k the fraction of each heatmap cell covered by it). So the
maps depend on the crop exactly as a trained network's would: a person small
in the letterboxed frame gives weak, coarse peaks; the second pass's crop gives
sharp ones. Two people are drawn; the main one has the larger discs (the
stronger head peak).
"""

import cv2
import numpy as np
import pytest

from flowpose_jax.configs import tiny
from flowpose_jax import heatmaps, inference, joints as joints_lib
from flowpose_jax.inference import person
from tests.inference.fakes import COLOURS, FRAME_HW, draw, marker_predictor


@pytest.fixture()
def predictor():
  return marker_predictor()


def test_two_passes_find_the_main_person_of_two(predictor):
  frame = np.full(FRAME_HW + (3,), 40, np.uint8)
  main = draw(frame, np.array([200.0, 180.0]), 1.0, 9)
  draw(frame, np.array([560.0, 200.0]), 0.8, 5)  # a second, smaller person

  assert predictor.default_passes == inference.CROP_PASSES == 3
  boxes = predictor.person_boxes([frame], passes=2)
  expected = joints_lib.joints_box(main, margin=predictor.config.input.joints_margin)
  # The coarse pass sees the person at 128/720 scale: its box is within a few
  # frame px of the box of the true joints (one heatmap cell is 22.5 px).
  np.testing.assert_allclose(boxes[0], expected, atol=25)

  one, _ = predictor.joints([frame], passes=1)
  two, conf = predictor.joints([frame], passes=2)
  err_one = np.linalg.norm(one[0] - main, axis=-1)
  err_two = np.linalg.norm(two[0] - main, axis=-1)
  assert err_two.max() < 3.0, err_two  # every joint on the main person, not the other one
  assert err_two.mean() < err_one.mean() / 2, (err_one, err_two)  # the crop is what makes it sharp
  assert np.all(conf[0] > inference.PERSON_MIN_CONFIDENCE)


def test_a_third_pass_recrops_around_the_second_passs_joints(predictor):
  """The coarse pass's box is off by a heatmap cell's share; the crop of the
  second pass's sharp joints is the box of the true joints."""
  frame = np.full(FRAME_HW + (3,), 40, np.uint8)
  main = draw(frame, np.array([250.0, 200.0]), 1.0, 9)
  expected = joints_lib.joints_box(main, margin=predictor.config.input.joints_margin)
  err2 = np.abs(predictor.person_boxes([frame], passes=2)[0] - expected).max()
  err3 = np.abs(predictor.person_boxes([frame], passes=3)[0] - expected).max()
  assert err3 < 2.0 and err3 < err2 / 3, (err2, err3)
  default, _ = predictor.joints([frame])  # CROP_PASSES
  three, _ = predictor.joints([frame], passes=3)
  np.testing.assert_array_equal(default, three)
  assert np.linalg.norm(three[0] - main, axis=-1).max() < 1.0


def test_without_the_focus_a_stronger_wrist_elsewhere_wins(predictor):
  """The person is picked by the head: another person's bigger wrist disc
  must not pull the main person's wrist (and so the crop) across the frame."""
  frame = np.full(FRAME_HW + (3,), 40, np.uint8)
  main = draw(frame, np.array([200.0, 180.0]), 1.0, 9)
  other = np.array([600.0, 250.0])
  cv2.circle(frame, tuple(int(v) for v in other), 14, COLOURS[1].tolist(), -1)  # only a big R wrist there
  inputs, mats = predictor.preprocess([frame])
  maps = predictor.frame_maps(inputs)
  plain, _ = heatmaps.decode_to_frame(maps, mats, predictor.stride, FRAME_HW)
  assert np.linalg.norm(plain[0, 1] - other) < 30  # the global argmax is the stray wrist
  two, _ = predictor.joints([frame])
  assert np.linalg.norm(two[0, 1] - main[1]) < 3.0


def test_a_box_overrides_the_passes_and_bad_passes_are_refused(predictor):
  frame = np.full(FRAME_HW + (3,), 40, np.uint8)
  main = draw(frame, np.array([200.0, 180.0]), 1.0, 9)
  box = joints_lib.joints_box(main, margin=0.4)
  with_box, _ = predictor.joints([frame], box[None])
  two, _ = predictor.joints([frame])
  assert np.linalg.norm(with_box[0] - main, axis=-1).max() < 3.0
  np.testing.assert_allclose(two, with_box, atol=3.0)
  with pytest.raises(Exception, match="passes=0"):
    predictor.joints([frame], passes=0)


def test_nothing_found_falls_back_to_the_whole_frame(predictor):
  frame = np.full(FRAME_HW + (3,), 40, np.uint8)
  boxes = predictor.person_boxes([frame], passes=2)
  np.testing.assert_array_equal(boxes[0], [0, 0, FRAME_HW[1] - 1, FRAME_HW[0] - 1])


def test_box_or_frame_takes_the_confident_joints_box_if_it_meets_the_frame():
  found = np.array([[10, 10], [30, 50], [500, 500]], np.float32)
  whole = [0, 0, 99, 79]
  box = person.box_or_frame(found, np.array([0.9, 0.9, 0.0]), (80, 100), margin=0.0)
  np.testing.assert_array_equal(box, [10, 10, 30, 50])  # the unconfident far joint is left out
  np.testing.assert_array_equal(person.box_or_frame(found, np.array([0.9, 0, 0]), (80, 100), 0.0), whole)
  off = person.box_or_frame(found + 200, np.array([0.9, 0.9, 0]), (80, 100), margin=0.0)
  np.testing.assert_array_equal(off, whole)  # a box that misses the frame is no crop


def test_default_passes_follow_the_crop_the_single_frame_part_was_trained_on():
  config = tiny.get_config()
  config.input.crop = "frame"
  assert person.default_passes(config) == 1
  config.input.crop = "joints"
  assert person.default_passes(config) == person.CROP_PASSES
  config.input.spatial_crop = "frame"  # a flowing stage on a whole-frame run
  assert person.default_passes(config) == 1


def test_smooth_boxes_drops_one_bad_frame_and_keeps_a_steady_track():
  boxes = np.tile(np.array([[100, 50, 300, 350]], np.float32), (9, 1))
  boxes[:, 0] += np.arange(9)  # a slow drift survives
  boxes[4] = [500, 0, 700, 400]  # one coarse pass on someone else
  out = inference.smooth_boxes(boxes)
  np.testing.assert_array_equal(out[4], [105, 50, 300, 350])  # median of x0 102, 103, 500, 105, 106
  np.testing.assert_array_equal(out[:, 0], [101, 101.5, 102, 103, 105, 106, 107, 106.5, 107])


def test_smooth_boxes_stop_at_a_shot_cut():
  # A two-frame cutaway to another view between two shots of the first one.
  boxes = np.array([[100, 50, 300, 350]] * 4 + [[400, 20, 600, 380]] * 2 + [[100, 50, 300, 350]] * 4,
                   np.float32)
  shots = np.array([0] * 4 + [1] * 2 + [2] * 4)
  np.testing.assert_array_equal(inference.smooth_boxes(boxes, shots=shots), boxes)  # each shot keeps its crop
  # Across the cuts, the median over 5 frames would give the cutaway the other shots' crop.
  np.testing.assert_array_equal(inference.smooth_boxes(boxes)[4:6], boxes[:2])
