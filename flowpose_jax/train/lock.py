"""One writer per workdir: ``<workdir>/train.lock``.

A training run (and so each point of a study, which is one) holds an
exclusive ``fcntl.flock`` on the lock file while it runs, and the file names
the holder (host, pid, start time, command). A second run on the same workdir
is refused at once with one line naming the holder. The kernel drops the lock
when its process dies, ``kill -9`` included, so a lock left by a dead process
is taken over (and said so). In a multi-process job process 0 holds the lock
for the job and every process learns whether it got it.

Remote workdirs (``gs://...``) have no file locks: they are not locked (the
log says so); one job per remote workdir is the operator's rule there.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time

from flowpose_jax import fileio
from flowpose_jax.errors import FlowposeError

log = logging.getLogger("flowpose")
LOCK_FILE = "train.lock"


class WorkdirBusy(FlowposeError):
  """Another live process trains into this workdir."""


def _holder_text(path: str) -> str:
  try:
    with open(path) as f:
      holder = json.load(f)
    return (f"pid {holder['pid']} on {holder['host']}, started {holder['started']} "
            f"({holder.get('command', '?')})")
  except (OSError, ValueError, KeyError):
    return "a process that has not written its name yet"


class WorkdirLock:
  """``with WorkdirLock(workdir): ...`` holds the workdir's lock, or raises ``WorkdirBusy``."""

  def __init__(self, workdir: str):
    self.workdir = workdir
    self.path = os.path.join(workdir, LOCK_FILE)
    self._fd: int | None = None

  def acquire(self) -> None:
    """Takes the lock (creating the workdir), or raises ``WorkdirBusy`` naming the holder."""
    if not fileio.is_local(self.workdir):
      log.info("%s is remote: not locked (run one job per remote workdir)", self.workdir)
      return
    os.makedirs(self.workdir, exist_ok=True)
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(fd)
      raise WorkdirBusy(f"{self.workdir} is being trained by {_holder_text(self.path)}; wait for it, stop "
                        f"it, or train into another --workdir") from None
    previous = os.read(fd, 4096)
    if previous.strip():
      log.warning("taking over the lock of %s left by %s, which has stopped", self.workdir,
                  _holder_text(self.path))
    holder = {"host": socket.gethostname(), "pid": os.getpid(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": " ".join(sys.argv)[:300]}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)
    os.fsync(fd)
    self._fd = fd

  def release(self) -> None:
    """Empties the file (so the next run does not report a take-over) and drops the lock."""
    if self._fd is None:
      return
    try:
      os.ftruncate(self._fd, 0)
    finally:
      os.close(self._fd)  # closing drops the flock
      self._fd = None

  def __enter__(self) -> "WorkdirLock":
    self.acquire()
    return self

  def __exit__(self, *exc) -> None:
    self.release()


__all__ = ["LOCK_FILE", "WorkdirBusy", "WorkdirLock"]
