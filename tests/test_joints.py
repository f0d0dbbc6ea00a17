from flowpose_jax import joints


def test_bbc_pose_order_and_flip_partners():
  assert joints.JOINT_NAMES == ("head", "right_wrist", "left_wrist", "right_elbow", "left_elbow",
                                "right_shoulder", "left_shoulder")
  assert joints.FLIP_INDEX == (0, 2, 1, 4, 3, 6, 5)  # the release's 1-based pairs 2<->3, 4<->5, 6<->7
  assert all(joints.FLIP_INDEX[joints.FLIP_INDEX[i]] == i for i in range(joints.NUM_JOINTS))


def test_joint_types_cover_every_joint_once():
  covered = sorted(i for idx in joints.JOINT_TYPES.values() for i in idx)
  assert covered == list(range(joints.NUM_JOINTS))
