"""TFDS builder of synthetic signer videos; importing registers ``synthetic_signers``."""

from data_builders.synthetic_signers.synthetic_signers import (
    CONFIGS,
    SPLITS,
    SyntheticSigners,
    SyntheticSignersConfig,
    build,
    video_seed,
)

__all__ = ["CONFIGS", "SPLITS", "SyntheticSigners", "SyntheticSignersConfig", "build", "video_seed"]
