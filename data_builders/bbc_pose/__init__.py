"""TFDS builder of BBC Pose / Extended BBC Pose; importing registers ``bbc_pose``."""

from flowpose_jax.data_builders.bbc_pose.bbc_pose import (
    CONFIGS,
    MANUAL_DOWNLOAD_INSTRUCTIONS,
    NUM_ORIGINAL,
    SPLITS,
    BbcPose,
    BbcPoseConfig,
    build,
    read_annotations,
    to_zero_based,
    video_box,
)

__all__ = ["CONFIGS", "MANUAL_DOWNLOAD_INSTRUCTIONS", "NUM_ORIGINAL", "SPLITS", "BbcPose",
           "BbcPoseConfig", "build", "read_annotations", "to_zero_based", "video_box"]
