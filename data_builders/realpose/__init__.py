"""TFDS builder of the shared real pose images (Buffy, PARSE); importing registers ``realpose``."""

from flowpose_jax.data_builders.realpose.realpose import (
    BUFFY_STICK_NAMES,
    PARSE_JOINT_NAMES,
    Realpose,
    RealposeConfig,
)

__all__ = ["BUFFY_STICK_NAMES", "PARSE_JOINT_NAMES", "Realpose", "RealposeConfig"]
