"""Metrics to TensorBoard event files and a JSON-lines file in the workdir.

``metrics.jsonl`` holds one row per log point: ``{"step": N, "<tag>": value,
...}``. A resumed run keeps the rows up to the step it resumed from and drops
the later ones (they belonged to the steps it is about to redo), so every step
appears once; TensorBoard drops them too (``purge_step``). The file is
rewritten whole (atomically, ``fileio``) at each ``flush``, which works on
object stores (``gs://``) that cannot append.

TensorBoard tags allow only ``[A-Za-z0-9_./-]``: ``tensorboard_tag`` spells
``%`` as ``pct`` there (``val/acc_20%/head`` -> ``val/acc_20pct/head``) and
any other character as ``_``; ``metrics.jsonl`` keeps the names as given.
"""

from __future__ import annotations

import json
import os
import re

import jax
import numpy as np
from etils import epath

from flowpose_jax import fileio, workdir as workdir_lib

METRICS_FILE = "metrics.jsonl"
_TAG_ILLEGAL = re.compile(r"[^A-Za-z0-9_./-]")


def tensorboard_tag(name: str) -> str:
  """A metric name as a legal TensorBoard tag: ``%`` -> ``pct``, other illegal characters -> ``_``."""
  return _TAG_ILLEGAL.sub("_", name.replace("%", "pct")).lstrip("/")


def read_rows(workdir: str) -> list[dict]:
  """The rows of ``<workdir>/metrics.jsonl`` (none if absent); a torn last line is skipped."""
  p = workdir_lib.path(workdir, METRICS_FILE)
  if not p.exists():
    return []
  rows = []
  for line in p.read_text(encoding="utf-8").splitlines():
    try:
      rows.append(json.loads(line))
    except json.JSONDecodeError:  # a process killed mid-write on a filesystem without atomic rename
      continue
  return rows


class MetricWriter:
  """Writes scalars/images from process 0; a no-op elsewhere.

  Args:
    workdir: the run's workdir.
    resume_step: the step training continues from: rows of later steps are dropped.
  """

  def __init__(self, workdir: str, resume_step: int = 0):
    self.enabled = jax.process_index() == 0
    self.path = os.fspath(workdir_lib.path(workdir, METRICS_FILE))
    self._rows: list[str] = []
    self._tb = None
    if self.enabled:
      from tensorboardX import SummaryWriter  # pylint: disable=import-outside-toplevel
      self._rows = [json.dumps(r) for r in read_rows(workdir) if r.get("step", 0) <= resume_step]
      self._write()
      self._tb = SummaryWriter(os.fspath(workdir_lib.path(workdir, "tensorboard")),
                               purge_step=resume_step + 1)

  def _write(self) -> None:
    if self._rows or epath.Path(self.path).exists():
      fileio.write_text(self.path, "".join(r + "\n" for r in self._rows))

  def scalars(self, step: int, values: dict[str, float]) -> None:
    if not self.enabled:
      return
    for k, v in values.items():
      self._tb.add_scalar(tensorboard_tag(k), float(v), step)
    self._rows.append(json.dumps({"step": int(step), **{k: float(v) for k, v in values.items()}}))

  def image(self, step: int, tag: str, image: np.ndarray) -> None:
    """image: [H, W, 3] uint8 RGB."""
    if self.enabled:
      self._tb.add_image(tensorboard_tag(tag), image, step, dataformats="HWC")

  def flush(self) -> None:
    """Writes ``metrics.jsonl`` and the TensorBoard events so far."""
    if self.enabled:
      self._write()
      self._tb.flush()

  def close(self) -> None:
    if self.enabled:
      self._write()
      self._tb.close()


__all__ = ["METRICS_FILE", "MetricWriter", "read_rows", "tensorboard_tag"]
