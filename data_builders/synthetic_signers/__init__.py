"""TFDS builder of synthetic signer videos; importing registers ``synthetic_signers``."""

from flowpose_jax.data_builders.synthetic_signers.synthetic_signers import (
    CONFIGS,
    SPLITS,
    SyntheticSigners,
    SyntheticSignersConfig,
    build,
    video_seed,
)

__all__ = ["CONFIGS", "SPLITS", "SyntheticSigners", "SyntheticSignersConfig", "build", "video_seed"]
