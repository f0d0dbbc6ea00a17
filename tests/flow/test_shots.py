"""Shot-cut detection (flowpose_jax.flow.shots) on synthetic cuts and real clips."""

import dataclasses
import glob
import pathlib

import cv2
import numpy as np
import pytest

from flowpose_jax.data import synthetic
from flowpose_jax.flow import shots

SHARED = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"
CLIPS = (SHARED / "video" / "selfie_segmentation_web.mp4", SHARED / "video" / "pose_segmentation.mp4")
GOALKEEPER = SHARED / "realvideo" / "jhmdb_goalkeeper_a"


def test_finds_the_generators_cuts_and_nothing_else():
  found_cuts = 0
  for seed in range(6):
    v = synthetic.render_video(seed, 24, 72, 128, synthetic.PHOTO_CUTS)
    true = np.flatnonzero(~np.isfinite(v["flow"]).all((1, 2, 3))) + 1
    ids = shots.shot_ids(v["image"])
    np.testing.assert_array_equal(np.flatnonzero(np.diff(ids)) + 1, true, err_msg=f"seed {seed}")
    found_cuts += len(true)
  assert found_cuts >= 4


def test_a_moving_camera_and_moving_people_are_not_cuts():
  fast = dataclasses.replace(synthetic.PHOTO, camera_pan=0.4, camera_zoom=0.2, camera_gap_frames=(6, 12))
  for seed in range(4):
    v = synthetic.render_video(seed, 24, 72, 128, fast)
    assert (shots.shot_ids(v["image"]) == 0).all(), seed


def test_shot_runs():
  starts, ends = shots.shot_runs(np.array([0, 0, 0, 1, 1, 4]))
  np.testing.assert_array_equal(starts, [0, 0, 0, 3, 3, 5])
  np.testing.assert_array_equal(ends, [3, 3, 3, 5, 5, 6])
  assert [a.size for a in shots.shot_runs(np.zeros(0, np.int64))] == [0, 0]
  with pytest.raises(ValueError, match="decrease"):
    shots.shot_runs(np.array([0, 1, 0]))


def test_ratio_to_the_neighbours_raises_the_bar_in_busy_footage():
  calm = np.array([0, 0.05, 0.05, 0.5, 0.05, 0.05, 0.05])
  busy = np.array([0, 0.3, 0.3, 0.5, 0.3, 0.3, 0.3])
  assert shots.cuts_from_scores(calm).tolist() == [False, False, False, True, False, False, False]
  assert not shots.cuts_from_scores(busy).any()
  assert not shots.cuts_from_scores(np.array([0, 0.9])[:1]).any()


def _read(path: pathlib.Path, size=(320, 180)) -> list[np.ndarray]:
  cap = cv2.VideoCapture(str(path))
  out = []
  while True:
    ok, frame = cap.read()
    if not ok:
      break
    out.append(cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), size, interpolation=cv2.INTER_AREA))
  return out


@pytest.mark.skipif(not all(p.exists() for p in CLIPS) or not GOALKEEPER.is_dir(),
                    reason=f"the real clips of {SHARED / 'video'} and {GOALKEEPER} are not on this machine")
def test_real_clips_have_no_cuts_and_their_splice_has_one():
  keeper = [cv2.resize(cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB), (320, 180), interpolation=cv2.INTER_AREA)
            for p in sorted(glob.glob(str(GOALKEEPER / "*.png")))]
  selfie, dancer = (_read(p) for p in CLIPS)
  for name, clip in (("selfie", selfie), ("dancer", dancer), ("goalkeeper", keeper)):
    assert len(clip) > 10 and (shots.shot_ids(clip) == 0).all(), name
  # An edit: 30 frames of the presenter, the goalkeeper, then the dancer.
  video = selfie[:30] + keeper + dancer[:30]
  ids = shots.shot_ids(video)
  np.testing.assert_array_equal(np.flatnonzero(np.diff(ids)) + 1, [30, 30 + len(keeper)])
