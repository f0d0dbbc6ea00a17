"""Test setup: 8 simulated CPU devices (must happen before jax is imported)."""

import os
import shutil
import subprocess
import uuid

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402
from absl import flags  # noqa: E402

# grain's worker processes (config.input.workers > 0) read absl flags: an entry point parses
# them (the CLI does; so does this test session).
if not flags.FLAGS.is_parsed():
  flags.FLAGS(["pytest"])


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
  """The synthetic_signers/tiny dataset, built once per test session."""
  from flowpose_jax import jobs
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  jobs.build_dataset("synthetic_signers/tiny", data_dir)
  return data_dir


@pytest.fixture()
def tiny_config(tiny_data_dir):
  from flowpose_jax.configs import tiny
  config = tiny.get_config()
  config.dataset.data_dir = tiny_data_dir
  return config


@pytest.fixture(scope="session")
def tiny_workdir(tiny_data_dir, tmp_path_factory):
  """A workdir of configs/tiny.py trained 20 steps (no validation), shared by read-only tests."""
  from flowpose_jax.configs import tiny
  from flowpose_jax.train.loop import train_and_evaluate
  config = tiny.get_config()
  config.dataset.data_dir = tiny_data_dir
  config.num_train_steps = 20
  config.eval_every = 0
  workdir = str(tmp_path_factory.mktemp("tiny_workdir"))
  train_and_evaluate(config, workdir, show_progress=False)
  return workdir


@pytest.fixture()
def tmpfs(tmp_path):
  """``tmpfs(options)`` mounts a tmpfs with mount ``options`` ("size=8m", "ro,size=1m") and returns its
  path; unmounted after the test. Needs root and mount rights: the test skips elsewhere."""
  mounted = []

  def mount(options: str):
    where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None or subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True).returncode:
      pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    mounted.append(where)
    return where

  yield mount
  for where in mounted:
    subprocess.run(["umount", "-l", str(where)], check=False)
