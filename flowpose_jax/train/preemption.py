"""Stopping a run cleanly: SIGTERM (preemption) and Ctrl-C save the current step, then stop.

Pods and Slurm send SIGTERM some seconds before they kill a job. With one
process, a signal handler notes it and the loop stops after the step in
progress. With several, the hosts must agree on the step they all save at:
JAX's preemption service (started by ``jax.distributed.initialize``) catches
SIGTERM in any process, tells the others, and
``multihost_utils.reached_preemption_sync_point(step)`` turns True at the
same step everywhere. Ctrl-C is turned into a SIGTERM of its own process, so
it takes the same path; a second Ctrl-C aborts at once (without saving).
"""

from __future__ import annotations

import os
import signal
import threading

import jax
from jax.experimental import multihost_utils

EXIT_CODES = {"SIGTERM": 0, "SIGINT": 130}  # a preempted job is not a failed one; Ctrl-C as usual


class TrainingStopped(Exception):
  """Training stopped on a signal after saving a checkpoint at ``step``."""

  def __init__(self, step: int, signal_name: str, checkpoint_dir: str):
    self.step, self.signal_name = step, signal_name
    self.exit_code = EXIT_CODES.get(signal_name, 0)
    super().__init__(f"stopped by {signal_name} after step {step}, saved in {checkpoint_dir}; "
                     f"run the same command again to resume from there")


class StopSignals:
  """Context manager that turns SIGTERM/SIGINT into a stop at an agreed step.

  Call ``due(step)`` after every step on every process, with the same steps;
  it returns True at the step to save and stop at. Handlers are installed
  only from the main thread (elsewhere signals keep their defaults) and
  restored on exit.
  """

  def __init__(self):
    self.received: str | None = None
    self._multi = jax.process_count() > 1
    self._previous: dict[int, object] = {}

  def __enter__(self) -> StopSignals:
    if threading.current_thread() is threading.main_thread():
      # Several processes: SIGTERM belongs to JAX's preemption notifier, which tells the peers.
      for sig in (signal.SIGINT,) if self._multi else (signal.SIGINT, signal.SIGTERM):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc) -> None:
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    self._previous.clear()

  def _handle(self, signum: int, frame) -> None:
    del frame
    self.received = self.received or signal.Signals(signum).name
    signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))  # the next one acts at once
    if self._multi:
      os.kill(os.getpid(), signal.SIGTERM)  # -> JAX's preemption notifier -> every process

  @property
  def signal_name(self) -> str:
    return self.received or "SIGTERM"

  def due(self, step: int) -> bool:
    """Whether to save and stop after ``step`` (all processes agree)."""
    if self._multi:
      return multihost_utils.reached_preemption_sync_point(step)
    return self.received is not None


__all__ = ["EXIT_CODES", "StopSignals", "TrainingStopped"]
