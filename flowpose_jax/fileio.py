"""Atomic file output: the one home for "write to a temp file, then move it in place".

Everything the project writes that a reader might open while it is being
written (config.json, metrics, results, plots, overlays, cached flow) goes
through ``atomic_output``, so a killed process never leaves a half file under
the final name. Destinations may be local paths or URLs that ``etils.epath``
opens (``gs://bucket/...``): writers always get a local temp path (OpenCV,
matplotlib and numpy write only local files), which is renamed into a local
destination or copied to a remote one (an object store shows an object only
once it is complete).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from etils import epath


def is_local(path: str | os.PathLike) -> bool:
  """Whether ``path`` is on the local filesystem (not ``scheme://...``)."""
  return "://" not in os.fspath(path)


def plain_permissions(path: str | os.PathLike) -> None:
  """Gives a local file or folder the mode a plain ``open(..., "w")`` / ``mkdir`` would (temp files and
  folders from ``tempfile`` are owner-only)."""
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~umask)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[str]:
  """Yields a local temp path (same extension as ``path``); moves it to ``path`` on success.

  On any exception (KeyboardInterrupt included) the temp file is removed and
  ``path`` is left untouched. The parent folder is created if needed. The
  file gets the permissions a plain ``open(path, "w")`` would give (mkstemp's
  own are owner-only).
  """
  dst = epath.Path(os.path.abspath(path) if is_local(path) else path)
  dst.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=os.fspath(dst.parent) if is_local(path) else None,
                             prefix=f".{dst.name}.tmp-", suffix=os.path.splitext(dst.name)[1])
  os.close(fd)
  plain_permissions(tmp)
  try:
    yield tmp
    if is_local(path):
      os.replace(tmp, dst)
    else:
      epath.Path(tmp).copy(dst, overwrite=True)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
  """Writes ``text`` (UTF-8) to ``path`` atomically."""
  with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
  """Writes ``data`` to ``path`` atomically."""
  with atomic_output(path) as tmp, open(tmp, "wb") as f:
    f.write(data)


__all__ = ["is_local", "plain_permissions", "atomic_output", "write_text", "write_bytes"]
