"""TFDS builder of ChaLearn 2013 gesture videos (manual download); importing registers ``chalearn``."""

from flowpose_jax.data_builders.chalearn.chalearn import (
    KINECT_JOINT_NAMES,
    Chalearn,
    ChalearnConfig,
    read_skeletons_csv,
    read_skeletons_mat,
    to_ours,
)

__all__ = ["KINECT_JOINT_NAMES", "Chalearn", "ChalearnConfig", "read_skeletons_csv",
           "read_skeletons_mat", "to_ours"]
