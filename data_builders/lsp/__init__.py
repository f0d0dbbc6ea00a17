"""TFDS builder of Leeds Sports Pose / LSP-extended; importing registers ``lsp``."""

from flowpose_jax.data_builders.lsp.lsp import LSP_JOINT_NAMES, Lsp, LspConfig, convert, read_joints

__all__ = ["LSP_JOINT_NAMES", "Lsp", "LspConfig", "convert", "read_joints"]
