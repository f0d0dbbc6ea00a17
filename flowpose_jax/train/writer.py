"""Metrics to TensorBoard event files and a JSON-lines file in the workdir."""

from __future__ import annotations

import json
import os

import jax
import numpy as np


class MetricWriter:
  """Writes scalars/images from process 0; a no-op elsewhere."""

  def __init__(self, workdir: str):
    self.enabled = jax.process_index() == 0
    self.path = os.path.join(workdir, "metrics.jsonl")
    self._tb = None
    if self.enabled:
      from tensorboardX import SummaryWriter
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def scalars(self, step: int, values: dict[str, float]) -> None:
    if not self.enabled:
      return
    for k, v in values.items():
      self._tb.add_scalar(k, float(v), step)
    with open(self.path, "a") as f:
      f.write(json.dumps({"step": int(step), **{k: float(v) for k, v in values.items()}}) + "\n")

  def image(self, step: int, tag: str, image: np.ndarray) -> None:
    """image: [H, W, 3] uint8 RGB."""
    if self.enabled:
      self._tb.add_image(tag, image, step, dataformats="HWC")

  def flush(self) -> None:
    if self.enabled:
      self._tb.flush()

  def close(self) -> None:
    if self.enabled:
      self._tb.close()
