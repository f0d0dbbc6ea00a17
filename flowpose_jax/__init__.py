"""flowpose_jax: Flowing ConvNets for human pose estimation in videos, in JAX/Flax."""

from flowpose_jax.errors import FlowposeError

__version__ = "0.1.0"


def load(workdir: str, **kwargs):
  """Loads a trained workdir, or a shipped model by name (``flowpose_jax.load("NAME")``; the names:
  ``flowpose_jax.workdir.shipped_names()``); see ``flowpose_jax.inference.load``."""
  from flowpose_jax import inference  # pylint: disable=import-outside-toplevel
  return inference.load(workdir, **kwargs)


__all__ = ["FlowposeError", "load", "__version__"]
