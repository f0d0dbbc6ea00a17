"""Atomic file output: the one home for "write to a temp file, then rename".

Everything the project writes that a reader might open while it is being
written (config.json, results, plots, overlays, cached flow) goes through
``atomic_output``, so a killed process never leaves a half file under the
final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[str]:
  """Yields a temp path beside ``path`` (same extension); renames it to ``path`` on success.

  On any exception (KeyboardInterrupt included) the temp file is removed and
  ``path`` is left untouched. The parent folder is created if needed.
  """
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.tmp-",
                             suffix=os.path.splitext(path)[1])
  os.close(fd)
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_text(path: str, text: str) -> None:
  """Writes ``text`` (UTF-8) to ``path`` atomically."""
  with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    f.write(text)


def write_bytes(path: str, data: bytes) -> None:
  """Writes ``data`` to ``path`` atomically."""
  with atomic_output(path) as tmp, open(tmp, "wb") as f:
    f.write(data)


__all__ = ["atomic_output", "write_text", "write_bytes"]
