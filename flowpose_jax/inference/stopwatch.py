"""Seconds per stage of a pipeline, each stage measured once (threads may add their own)."""

from __future__ import annotations

import contextlib
import threading
import time


class Stopwatch:
  """Adds seconds per stage into a ``timings`` dict (a stage measured twice adds twice).

  Args:
    timings: the caller's dict, or None for a private one; every key of
      ``stages`` is set to 0 if absent, so a stage that never ran reads 0.
    stages: the keys to start at 0.
  """

  def __init__(self, timings: dict | None = None, stages: tuple[str, ...] = ()):
    self.timings = {} if timings is None else timings
    for key in stages:
      self.timings.setdefault(key, 0.0)
    self._lock = threading.Lock()

  def add(self, key: str, seconds: float) -> None:
    """Adds ``seconds`` to ``key`` (safe from several threads)."""
    with self._lock:
      self.timings[key] = self.timings.get(key, 0.0) + seconds

  @contextlib.contextmanager
  def stage(self, key: str):
    """``with watch.stage(key):`` adds the block's wall seconds to ``key``."""
    start = time.perf_counter()
    try:
      yield
    finally:
      self.add(key, time.perf_counter() - start)

  def timed(self, key: str, fn, *args):
    """``fn(*args)``, its seconds added to ``key`` (for jobs on other threads)."""
    with self.stage(key):
      return fn(*args)
