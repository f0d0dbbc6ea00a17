"""TFDS builder of Poses in the Wild (manual download); importing registers ``poses_in_the_wild``."""

from flowpose_jax.data_builders.poses_in_the_wild.poses_in_the_wild import (
    PIW_JOINT_NAMES,
    PosesInTheWild,
    seq_and_frame,
    to_ours,
)

__all__ = ["PIW_JOINT_NAMES", "PosesInTheWild", "seq_and_frame", "to_ours"]
