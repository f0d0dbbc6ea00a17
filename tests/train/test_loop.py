"""End to end: tiny training lowers the loss; resume is exact; NaN stops cleanly."""

import json
import os

import numpy as np
import pytest

from flowpose_jax.errors import ConfigError, FlowposeError, InputError, TrainingDivergedError
from flowpose_jax.train import checkpoint as ckpt_lib
from flowpose_jax.train.loop import train_and_evaluate


def _losses(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  return {r["step"]: r["train/loss"] for r in rows if "train/loss" in r}


def _quiet(config):
  config.eval_every = 0
  config.timelapse_frames = 0
  return config


def test_tiny_run_lowers_loss_and_writes_outputs(tiny_config, tmp_path):
  config = tiny_config
  config.num_train_steps = 60
  config.log_every = 10
  config.eval_every = 60
  config.eval.max_examples = 16
  workdir = str(tmp_path / "run")
  train_and_evaluate(config, workdir, show_progress=False)
  losses = _losses(workdir)
  first, last = losses[10], losses[60]
  assert last < 0.7 * first, losses
  assert ckpt_lib.Checkpointer(workdir).latest_step() == 60
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  assert os.path.exists(os.path.join(workdir, "config.json"))


def test_resume_continues_with_identical_losses(tiny_config, tmp_path):
  config = _quiet(tiny_config)
  config.num_train_steps = 8
  config.log_every = 1
  config.checkpoint_every = 100
  straight = str(tmp_path / "straight")
  train_and_evaluate(config, straight, show_progress=False)
  resumed = str(tmp_path / "resumed")
  train_and_evaluate(config, resumed, show_progress=False, until_step=4)
  assert ckpt_lib.Checkpointer(resumed).latest_step() == 4
  train_and_evaluate(config, resumed, show_progress=False)
  a, b = _losses(straight), _losses(resumed)
  assert sorted(a) == sorted(b) == list(range(1, 9))
  np.testing.assert_allclose([a[s] for s in range(1, 9)], [b[s] for s in range(1, 9)], rtol=1e-6)


def test_nan_loss_stops_and_sets_aside_the_diverged_checkpoint(tiny_config, tmp_path):
  config = _quiet(tiny_config)
  config.optimizer.name = "sgd"
  config.optimizer.learning_rate = 1e30
  config.optimizer.warmup_steps = 0
  config.optimizer.schedule = "constant"
  config.optimizer.grad_clip = 0.0
  config.log_every = 1
  config.checkpoint_every = 1
  workdir = str(tmp_path / "nan")
  with pytest.raises(TrainingDivergedError, match=r"first at step 2 .*no good checkpoint was saved yet.*"
                                                  r"set config.optimizer.grad_clip=1.0 \(now off\)"):
    train_and_evaluate(config, workdir, show_progress=False)
  # Step 1's update made the params that gave step 2 its NaN: that checkpoint is set aside.
  assert ckpt_lib.Checkpointer(workdir).latest_step() is None
  assert [p.split("-")[0] for p in os.listdir(os.path.join(workdir, "checkpoints_set_aside"))] == ["1"]


def test_resume_with_other_model_is_refused(tiny_config, tmp_path):
  config = _quiet(tiny_config)
  config.num_train_steps = 1
  workdir = str(tmp_path / "run")
  train_and_evaluate(config, workdir, show_progress=False)
  config.model.width = 0.25
  with pytest.raises(ConfigError, match="model.width: 0.125 -> 0.25"):
    train_and_evaluate(config, workdir, show_progress=False)


@pytest.mark.parametrize("key, value", [("model.name", "foo"), ("dataset.name", "synthetic_signers/nope")])
def test_a_failing_config_writes_nothing(tiny_config, tmp_path, key, value):
  config = _quiet(tiny_config)
  section, field = key.split(".")
  config[section][field] = value
  workdir = tmp_path / "run"
  with pytest.raises(FlowposeError):
    train_and_evaluate(config, str(workdir), show_progress=False)
  assert not workdir.exists()  # no config.json that would then refuse the corrected config


def test_workdir_that_is_a_file_is_refused(tiny_config, tmp_path):
  path = tmp_path / "notes.txt"
  path.write_text("mine")
  with pytest.raises(InputError, match="is a file, not a folder"):
    train_and_evaluate(_quiet(tiny_config), str(path), show_progress=False)
  assert path.read_text() == "mine"
