"""SIGTERM / Ctrl-C save the current step and stop; kill -9 loses only unsaved steps; resume is bit-exact.

Each test runs ``python -m flowpose_jax.cli train`` as a subprocess (this
session's 8 CPU devices), signals it mid-run, resumes it through the CLI, and
compares ``flowpose inspect``'s params digest with an uninterrupted in-process
run of the same length. A constant learning rate without warmup keeps the
resumed run's shorter ``num_train_steps`` from changing the schedule (warmup
is clamped to ``num_train_steps - 1``).
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from flowpose_jax import workdir as workdir_lib
from flowpose_jax.train.loop import train_and_evaluate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LONG = 500  # steps of the run that gets signalled (never reached)
SAVED_WITHIN_S = 30  # signal -> the current step's checkpoint finalized (a common preemption notice)
EXIT_WITHIN_S = 120  # signal -> process gone: a guard; interpreter and XLA teardown on a loaded 2-core CI vary


def _overrides(steps, checkpoint_every):
  return [f"--config.num_train_steps={steps}", f"--config.checkpoint_every={checkpoint_every}",
          "--config.optimizer.schedule=constant", "--config.optimizer.warmup_steps=0", "--config.eval_every=0", "--config.timelapse_frames=0",
          "--config.log_every=1"]


def _cli(args, data_dir, **kw):
  cmd = [sys.executable, "-m", "flowpose_jax.cli", *args]
  if args[0] == "train":
    cmd += ["--config", "configs/tiny.py", "--data_dir", data_dir]
  return subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kw)


def _run(args, data_dir, timeout=600):
  proc = _cli(args, data_dir)
  try:
    out, err = proc.communicate(timeout=timeout)
  except subprocess.TimeoutExpired:
    proc.kill()
    out, err = proc.communicate()
    pytest.fail(f"flowpose {args[0]} did not finish in {timeout} s: {err[-2000:]}")
  return proc.returncode, out, err


class _StderrTail:
  """Reads a running process's stderr in a thread (the progress bar's ``\\r`` rows have no newline)."""

  def __init__(self, proc):
    self._chunks: list[str] = []
    self._thread = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
    self._thread.start()

  def _read(self, stream):
    for chunk in iter(lambda: stream.read(256), ""):
      self._chunks.append(chunk)

  def text(self) -> str:
    return "".join(self._chunks)

  def rest(self, timeout) -> str:
    """All of stderr, once the process has closed it."""
    self._thread.join(timeout)
    return self.text()


def _wait_for(predicate, proc, timeout):
  deadline = time.time() + timeout
  while time.time() < deadline and proc.poll() is None:
    if predicate():
      return True
    time.sleep(0.05)
  return False


def _steps(workdir):
  folder = os.path.join(workdir, "checkpoints")
  return sorted(int(s) for s in os.listdir(folder) if s.isdigit()) if os.path.isdir(folder) else []


def _temp_folders(workdir):
  """Orbax's temporary folders of saves in flight (or left by a killed one)."""
  folder = os.path.join(workdir, "checkpoints")
  return [s for s in os.listdir(folder) if "tmp" in s] if os.path.isdir(folder) else []


def _inspect(workdir, data_dir):
  rc, out, err = _run(["inspect", "--workdir", workdir], data_dir)
  assert rc == 0, err
  return dict(line.split(": ", 1) for line in out.splitlines())


def _reference_digest(tiny_config, tmp_path, steps):
  config = tiny_config
  config.num_train_steps = steps
  config.checkpoint_every = 1000
  config.optimizer.schedule = "constant"
  config.optimizer.warmup_steps = 0
  config.eval_every = 0
  config.timelapse_frames = 0
  workdir = str(tmp_path / "straight")
  train_and_evaluate(config, workdir, show_progress=False)
  _, abstract = workdir_lib.abstract_model(config)
  params, _, _ = workdir_lib.restore_params(workdir, abstract)
  return workdir_lib.params_digest(params)


# Both signals go through the same handler and save; the resume (two more subprocesses and a
# reference run) is checked once, after SIGTERM, to keep CI's time down.
@pytest.mark.parametrize("sig, code, resume", [(signal.SIGTERM, 0, True), (signal.SIGINT, 130, False)])
def test_signal_saves_the_current_step_and_resume_is_bit_exact(tiny_config, tiny_data_dir, tmp_path, sig, code,
                                                               resume):
  workdir = str(tmp_path / "run")
  proc = _cli(["train", "--workdir", workdir, *_overrides(LONG, 1000)], tiny_data_dir)
  stderr = _StderrTail(proc)
  try:
    # Past compilation and into training (a step's loss on the progress bar, log_every=1), so the
    # time below is the save's alone; checkpoint_every=1000: no save is in flight when it lands.
    assert _wait_for(lambda: "loss=" in stderr.text(), proc, 300), stderr.text()[-3000:]
    sent = time.time()
    proc.send_signal(sig)
    finalized = lambda: bool(_steps(workdir)) and not _temp_folders(workdir)  # noqa: E731
    saved = _wait_for(finalized, proc, SAVED_WITHIN_S + 60) or finalized()  # it may exit between polls
    took = time.time() - sent
    proc.wait(timeout=EXIT_WITHIN_S)
    err = stderr.rest(timeout=30)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  assert proc.returncode == code, err[-3000:]
  assert saved and took < SAVED_WITHIN_S, (took, err[-3000:])
  assert "Traceback" not in err, err[-3000:]
  stopped = int(re.search(rf"stopped by {sig.name} after step (\d+)", err).group(1))
  assert _steps(workdir) == [stopped]
  assert not _temp_folders(workdir)
  if not resume:
    return
  total = stopped + 2
  rc, _, err = _run(["train", "--workdir", workdir, *_overrides(total, 1000)], tiny_data_dir)
  assert rc == 0, err[-3000:]
  info = _inspect(workdir, tiny_data_dir)
  assert info["step"] == str(total)
  assert info["params sha256"] == _reference_digest(tiny_config, tmp_path, total)


def test_kill_9_during_a_save_loses_only_unsaved_steps(tiny_config, tiny_data_dir, tmp_path):
  workdir = str(tmp_path / "run")
  ckpt = os.path.join(workdir, "checkpoints")
  proc = _cli(["train", "--workdir", workdir, *_overrides(LONG, 2)], tiny_data_dir)
  try:
    # Kill while a save is in flight (orbax's temp folder exists), after at least one finished save.
    in_flight = lambda: len(_steps(workdir)) >= 1 and bool(_temp_folders(workdir))  # noqa: E731
    assert _wait_for(in_flight, proc, 180)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  kept = _steps(workdir)
  assert kept, "no checkpoint survived"
  total = kept[-1] + 3
  rc, _, err = _run(["train", "--workdir", workdir, *_overrides(total, 2)], tiny_data_dir)
  assert rc == 0, err[-3000:]
  assert f"resumed from {ckpt} step {kept[-1]}" in err
  info = _inspect(workdir, tiny_data_dir)
  assert info["step"] == str(total)
  assert info["params sha256"] == _reference_digest(tiny_config, tmp_path, total)
  assert "process_0-of-1" in info["data position"]
