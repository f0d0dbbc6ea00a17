"""TFDS builder of FLIC / FLIC-full (manual download); importing registers ``flic``."""

from flowpose_jax.data_builders.flic.flic import FLIC_JOINT_NAMES, Flic, FlicConfig, to_ours

__all__ = ["FLIC_JOINT_NAMES", "Flic", "FlicConfig", "to_ours"]
