"""Resuming refuses what changes the math and accepts loader, logging and evaluation settings."""

import re

import pytest

from flowpose_jax.errors import ConfigError
from flowpose_jax.train import checkpoint as ckpt_lib
from flowpose_jax.train.loop import resume_conflicts, train_and_evaluate


def _short(config, steps):
  config.num_train_steps = steps
  config.checkpoint_every = 2
  config.eval_every = 0
  config.timelapse_frames = 0
  return config


@pytest.fixture()
def started(tiny_config, tmp_path):
  """A workdir trained 2 steps, and its config."""
  workdir = str(tmp_path / "run")
  train_and_evaluate(_short(tiny_config, 2), workdir, show_progress=False)
  return workdir, tiny_config


def test_a_rescheduled_job_may_change_loader_and_logging(started):
  workdir, config = started
  config = _short(config, 4)
  config.input.workers = 1          # another machine's core count
  config.input.read_threads = 2
  config.input.prefetch_batches = 3
  config.log_every = 1
  config.eval.batch_size = 4
  config.dataset.data_dir = config.dataset.data_dir + "/"  # the same data, read from another path
  train_and_evaluate(config, workdir, show_progress=False)
  assert ckpt_lib.Checkpointer(workdir).latest_step() == 4


@pytest.mark.parametrize("key, value", [
    ("optimizer.learning_rate", 0.5),
    ("augment.rotation", 5.0),
    ("input.size", 32),
    ("dataset.train_split", "train[:8]"),
    ("batch_size", 16),
    ("seed", 7),
])
def test_a_change_of_the_math_is_refused_naming_the_key(started, key, value):
  workdir, config = started
  config = _short(config, 4)
  section, _, field = key.rpartition(".")
  setattr(config[section] if section else config, field, value)
  with pytest.raises(ConfigError, match=re.escape(key) + ": .* -> " + re.escape(repr(value))):
    train_and_evaluate(config, workdir, show_progress=False)
  assert ckpt_lib.Checkpointer(workdir).latest_step() == 2


def test_optimizer_may_change_after_a_divergence():
  old = {"optimizer": {"learning_rate": 1.0}, "log_every": 5}
  new = {"optimizer": {"learning_rate": 1e-3}, "log_every": 1}
  assert resume_conflicts(old, new) == ["optimizer.learning_rate: 1.0 -> 0.001"]
  assert resume_conflicts(old, new, diverged=True) == []


def test_a_key_new_to_the_config_counts_as_a_change():
  assert resume_conflicts({"model": {}}, {"model": {"pooling": "sum"}}) == ["model.pooling: '<unset>' -> 'sum'"]


def test_a_field_added_since_the_run_started_is_no_change_at_its_default():
  old = {"dataset": {"name": "a"}}  # a run from before dataset.train_shares and subset_of existed
  assert resume_conflicts(old, {"dataset": {"name": "a", "train_shares": "", "subset_of": ""}}) == []
  assert resume_conflicts(old, {"dataset": {"name": "a", "train_shares": "1,1"}}) == [
      "dataset.train_shares: '<unset>' -> '1,1'"]


def test_init_from_a_model_of_another_width_is_a_model_mismatch_not_corruption(started, tmp_path):
  workdir, config = started
  config = _short(config, 2)
  config.init_from = workdir
  config.model.width = 0.25  # the started run is configs/tiny.py's 0.125
  with pytest.raises(ConfigError, match=r"holds another model \(heatmap_net, width 0.125.*: params\[.*\] "
                                        r"is \(.*\) there, \(.*\) here"):
    train_and_evaluate(config, str(tmp_path / "second"), show_progress=False)


def test_a_stride_2_run_starts_from_a_stride_4_run_and_trains(started, tmp_path):
  """init_from a stride-4 run into model.output_stride=2: every param it has is taken, the refine head keeps
  its zero start, and two steps train at 2x the map resolution; a stride mismatch is one ConfigError."""
  import numpy as np
  from flowpose_jax import workdir as workdir_lib
  from flowpose_jax.models.heatmap_net import REFINE_KEY
  from flowpose_jax.train import state as state_lib
  from flowpose_jax.train.validation import validate_config
  workdir, config = started
  config = _short(config, 2)
  config.model.output_stride = 2
  with pytest.raises(ConfigError, match=r"config.input.stride=4 .* output stride 2"):
    validate_config(config)
  config.input.stride = 2
  config.input.sigma = 2 * config.input.sigma
  config.init_from = workdir
  validate_config(config)
  params = workdir_lib.make_model(config)[1]
  loaded = state_lib.load_pretrained(params, workdir)
  coarse = workdir_lib.load(workdir).params
  assert workdir_lib.params_digest({k: v for k, v in loaded.items() if k != REFINE_KEY}) == \
      workdir_lib.params_digest(coarse)
  assert not np.any(np.asarray(loaded[REFINE_KEY][1]["kernel"]))
  second = str(tmp_path / "stride2")
  train_and_evaluate(config, second, show_progress=False)
  trained = workdir_lib.load(second)
  assert np.any(np.asarray(trained.params[REFINE_KEY][1]["kernel"]))  # the head learnt
  maps = _frame_maps(trained)
  assert maps.shape[1:3] == (config.input.size // 2, config.input.size // 2)


def _frame_maps(trained):
  """The trained model's maps of one rendered frame, through the Predictor."""
  import numpy as np
  from flowpose_jax import inference
  predictor = inference.Predictor(trained.config, trained.graphdef, trained.params)
  return predictor.heatmaps(np.zeros((1, 96, 128, 3), np.uint8))
