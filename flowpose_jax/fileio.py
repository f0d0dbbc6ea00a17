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
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from etils import epath

from flowpose_jax.errors import OutputError

TEMP_MARK = ".tmp-"  # atomic_output's temp files: .<name>.tmp-<pid>-<random><ext>


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
                             prefix=f".{dst.name}{TEMP_MARK}{os.getpid()}-", suffix=os.path.splitext(dst.name)[1])
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


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[str]:
  """Yields a new local temp folder beside ``path``; on success it replaces ``path`` whole (an
  earlier folder there is removed only then), its files given plain permissions. On any exception
  the temp folder is removed and ``path`` is left as it was."""
  path = os.path.abspath(path)
  parent = os.path.dirname(path)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(path)}{TEMP_MARK}{os.getpid()}-")
  try:
    yield tmp
    for root, dirs, files in os.walk(tmp):
      for name in dirs + files:
        plain_permissions(os.path.join(root, name))
    plain_permissions(tmp)
    if os.path.exists(path):
      shutil.rmtree(path)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      shutil.rmtree(tmp)


def file_sha256(path: str | os.PathLike) -> str:
  """SHA-256 (hex) of a local file's bytes, read in 1 MiB blocks."""
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      h.update(block)
  return h.hexdigest()


def remove_stale_temps(folder: str | os.PathLike) -> list[str]:
  """Removes the temp files of ``atomic_output`` in a local ``folder`` whose writer process is gone
  (killed mid-write: SIGKILL runs no clean-up); returns their paths. Another live writer's are kept."""
  removed = []
  if not is_local(folder) or not os.path.isdir(folder):
    return removed
  for name in os.listdir(folder):
    mark = name.find(TEMP_MARK)
    if not name.startswith(".") or mark < 0:
      continue
    pid = name[mark + len(TEMP_MARK):].split("-", 1)[0]
    if pid.isdigit() and not _alive(int(pid)):
      path = os.path.join(folder, name)
      os.remove(path)
      removed.append(path)
  return removed


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # another user's live process
    return True
  return True


# What a full, read-only or forbidden destination raises: said in one line, not a traceback.
OUTPUT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO)


@contextlib.contextmanager
def output_errors(where: str | os.PathLike) -> Iterator[None]:
  """Turns an OSError of a full, read-only or forbidden destination into one ``OutputError`` line
  naming the file and the fix (``where``: the folder the user chose, for the message)."""
  try:
    yield
  except OSError as e:
    if e.errno not in OUTPUT_ERRNOS:
      raise
    raise OutputError(f"cannot write {e.filename or where}: {e.strerror}; free space, fix the "
                      f"permissions of {where}, or write elsewhere") from None


def write_text(path: str | os.PathLike, text: str) -> None:
  """Writes ``text`` (UTF-8) to ``path`` atomically."""
  with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
  """Writes ``data`` to ``path`` atomically."""
  with atomic_output(path) as tmp, open(tmp, "wb") as f:
    f.write(data)


__all__ = ["is_local", "plain_permissions", "atomic_output", "atomic_folder", "file_sha256", "output_errors",
           "remove_stale_temps", "write_text", "write_bytes"]
