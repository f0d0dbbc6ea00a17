"""Which flow a flowing model runs with on a video: the one it was trained with, unless given.

The flow is named by its source (an OpenCV method, ``compute.METHODS``; the
exact flow "gt" exists only in synthetic sets, so a model trained on it gets
``compute.DEFAULT_METHOD`` in ``compute.DEFAULT_MODE``) and its mode (``compute.MODES``), as
``config.flow.source`` / ``config.flow.mode`` name it for training.
"""

from __future__ import annotations

from flowpose_jax.errors import FlowposeError
from flowpose_jax.flow import compute


def flow_choice(config, source: str | None = None, mode: str | None = None) -> tuple[str, str, str]:
  """The flow to run a flowing model with: the given ``source`` and ``mode``, else
  the model's (``config.flow.source`` / ``mode``); a model trained on exact flow
  ("gt") gets ``compute.DEFAULT_METHOD``, since a video has none.

  Returns:
    (source, mode, note): note is one line saying which flow and why.
  """
  trained = config.get("flow") or {}
  trained_source = trained.get("source", compute.DEFAULT_METHOD)
  trained_mode = trained.get("mode", compute.DEFAULT_MODE)
  why = "given" if (source, mode) != (None, None) else "as trained"
  if source is None and trained_source == compute.GT_SOURCE:  # exact flow has no mode either
    source, why = compute.DEFAULT_METHOD, "the default: trained on exact flow (gt), which a video does not have"
    trained_mode = compute.DEFAULT_MODE
  source = trained_source if source is None else source
  mode = trained_mode if mode is None else mode
  if source not in compute.METHODS:
    raise FlowposeError(f"flow source {source!r}: use one of {', '.join(compute.METHODS)} (exact flow, "
                        f"{compute.GT_SOURCE!r}, exists only in synthetic sets)")
  if mode not in compute.MODES:
    raise FlowposeError(f"flow mode {mode!r}: use one of {', '.join(compute.MODES)}")
  if why == "given":
    why = f"given; trained with {trained_source}, {trained_mode}"
  return source, mode, f"flow {source}, {mode} ({why}; --flow_source, --flow_mode to change)"
