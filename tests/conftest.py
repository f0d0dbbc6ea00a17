"""Test setup: 8 simulated CPU devices (must happen before jax is imported)."""

import os

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
