"""One writer per workdir: a second training is refused naming the holder; a dead holder's lock is taken over."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from flowpose_jax.train import lock as lock_lib
from flowpose_jax.train.loop import train_and_evaluate

HOLD = textwrap.dedent("""
    import sys, time
    from flowpose_jax.train.lock import WorkdirLock
    lock = WorkdirLock(sys.argv[1])
    lock.acquire()
    print("locked", flush=True)
    time.sleep(120)
""")


def _holder(workdir):
  """A separate process holding the workdir's lock (started, lock taken)."""
  proc = subprocess.Popen([sys.executable, "-c", HOLD, str(workdir)], stdout=subprocess.PIPE, text=True)
  assert proc.stdout.readline().strip() == "locked"
  return proc


def test_a_second_training_is_refused_naming_the_holder(tiny_config, tmp_path):
  workdir = tmp_path / "run"
  proc = _holder(workdir)
  try:
    tiny_config.num_train_steps = 1
    tiny_config.eval_every = 0
    with pytest.raises(lock_lib.WorkdirBusy, match=f"is being trained by pid {proc.pid} on "):
      train_and_evaluate(tiny_config, str(workdir), show_progress=False)
    assert not (workdir / "config.json").exists()  # nothing of the second run was written
  finally:
    proc.kill()
    proc.wait()


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path, caplog):
  workdir = tmp_path / "run"
  proc = _holder(workdir)
  os.kill(proc.pid, signal.SIGKILL)
  proc.wait()
  lock = lock_lib.WorkdirLock(str(workdir))
  with lock:
    holder = json.loads((workdir / lock_lib.LOCK_FILE).read_text())
    assert holder["pid"] == os.getpid()
  assert f"left by pid {proc.pid}" in caplog.text and "which has stopped" in caplog.text


def test_a_finished_run_leaves_the_workdir_free(tiny_config, tmp_path, caplog):
  tiny_config.num_train_steps = 1
  tiny_config.eval_every = 0
  workdir = str(tmp_path / "run")
  train_and_evaluate(tiny_config, workdir, show_progress=False)
  with lock_lib.WorkdirLock(workdir):  # free again, and no take-over reported
    pass
  assert "taking over" not in caplog.text
