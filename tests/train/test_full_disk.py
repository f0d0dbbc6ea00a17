"""Training into a full or read-only disk ends in one line, no traceback; a full one resumes once there is room."""

import os
import shutil
import subprocess
import sys

import pytest

from flowpose_jax.train import checkpoint as ckpt_lib


@pytest.fixture()
def small_disk(tmpfs):
  """An 8 MB tmpfs: room for one checkpoint of configs/tiny.py (~3.5 MB), not two."""
  return tmpfs("size=8m")


@pytest.fixture()
def read_only_disk(tmpfs):
  return tmpfs("ro,size=1m")


def _train(workdir, data_dir, steps):
  return subprocess.run(
      [sys.executable, "-m", "flowpose_jax.cli", "train", "--config", "configs/tiny.py", "--workdir", str(workdir),
       "--data_dir", data_dir, f"--config.num_train_steps={steps}", "--config.checkpoint_every=10",
       "--config.eval_every=0", "--config.timelapse_frames=0"],
      capture_output=True, text=True, timeout=600, env=dict(os.environ, XLA_FLAGS=""),
      cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_a_full_disk_is_one_line_and_the_run_resumes_after(small_disk, tiny_data_dir, tmp_path):
  workdir = small_disk / "w"
  done = _train(workdir, tiny_data_dir, 60)
  assert done.returncode == 2, done.stderr[-2000:]
  assert "Traceback" not in done.stderr
  errors = [line for line in done.stderr.splitlines() if line.startswith("flowpose: error:")]
  assert len(errors) == 1 and f"cannot write {workdir}/checkpoints: No space left on device" in errors[0]
  saved = ckpt_lib.Checkpointer(str(workdir)).all_steps()
  moved = tmp_path / "moved"
  shutil.copytree(workdir, moved, ignore=shutil.ignore_patterns("*.orbax-checkpoint-tmp*"))
  assert saved, "no checkpoint fitted: the test needs a bigger disk"
  resumed = _train(moved, tiny_data_dir, max(saved) + 10)
  assert f"resumed from" in resumed.stderr and f"step {max(saved)}" in resumed.stderr
  assert resumed.returncode == 0, resumed.stderr[-2000:]


def test_a_read_only_workdir_is_one_line(read_only_disk, tiny_data_dir):
  done = _train(read_only_disk / "w", tiny_data_dir, 5)
  assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
  assert done.stderr.strip().splitlines()[-1].startswith(
      f"flowpose: error: cannot write {read_only_disk / 'w'}: Read-only file system")
