import numpy as np

from flowpose_jax import joints


def test_bbc_pose_order_and_flip_partners():
  assert joints.JOINT_NAMES == ("head", "right_wrist", "left_wrist", "right_elbow", "left_elbow",
                                "right_shoulder", "left_shoulder")
  assert joints.FLIP_INDEX == (0, 2, 1, 4, 3, 6, 5)  # the release's 1-based pairs 2<->3, 4<->5, 6<->7
  assert all(joints.FLIP_INDEX[joints.FLIP_INDEX[i]] == i for i in range(joints.NUM_JOINTS))


def test_joint_types_cover_every_joint_once():
  covered = sorted(i for idx in joints.JOINT_TYPES.values() for i in idx)
  assert covered == list(range(joints.NUM_JOINTS))


def test_missing_joint_rule():
  pts = np.array([[10.0, 20.0], [np.nan, 5.0], [3.0, np.inf], [joints.MISSING_SENTINEL, 4.0],
                  [4.0, joints.MISSING_SENTINEL - 1.0], [-40.0, 0.0], [0.0, 0.0]])
  np.testing.assert_array_equal(joints.joints_present(pts), [1, 0, 0, 0, 0, 1, 1])
  visible = np.array([1, 1, 1, 1, 1, 1, 0], bool)
  np.testing.assert_array_equal(joints.joints_present(pts, visible), [1, 0, 0, 0, 0, 1, 0])
  batched = joints.joints_present(np.stack([pts, pts[::-1]]), np.stack([visible, visible]))
  assert batched.shape == (2, 7) and batched[1].tolist() == [1, 1, 0, 0, 0, 0, 0]
  before = pts.copy()
  masked, present = joints.mask_missing(pts, visible)
  np.testing.assert_array_equal(pts, before)  # input not modified
  assert masked.dtype == np.float32 and np.isnan(masked[~present]).all()
  np.testing.assert_array_equal(masked[present], pts[present])
