"""Never lose work, never resume into garbage: divergence, unreadable checkpoints, metrics on resume."""

import json
import os
import re
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from flowpose_jax import workdir as workdir_lib
from flowpose_jax.errors import TrainingDivergedError
from flowpose_jax.train import checkpoint as ckpt_lib
from flowpose_jax.train.loop import train_and_evaluate
from flowpose_jax.train.writer import read_rows


def _quiet(config, steps):
  config.eval_every = 0
  config.timelapse_frames = 0
  config.num_train_steps = steps
  return config


def _digest(workdir):
  _, abstract = workdir_lib.abstract_model(workdir_lib.load_config(workdir))
  params, _, step = workdir_lib.restore_params(workdir, abstract)
  return workdir_lib.params_digest(params), step


def test_divergence_keeps_only_checkpoints_from_before_it(tiny_config, tmp_path):
  # SGD warming up to a learning rate far too high: finite losses for two steps, then NaN.
  config = _quiet(tiny_config, 12)
  config.optimizer.name = "sgd"
  config.optimizer.learning_rate = 1e6
  config.optimizer.warmup_steps = 8
  config.optimizer.schedule = "constant"
  config.log_every = 4
  config.checkpoint_every = 1
  workdir = str(tmp_path / "run")
  with pytest.raises(TrainingDivergedError) as err:
    train_and_evaluate(config, workdir, show_progress=False)
  message = str(err.value)
  assert "lower config.optimizer.grad_clip (now 1)" in message  # grad_clip is on: no "enable grad_clip"
  first = int(re.search(r"first at step (\d+)", message).group(1))
  steps = ckpt_lib.Checkpointer(workdir).all_steps()
  assert steps and max(steps) == first - 2, (steps, message)
  assert f"last good checkpoint is step {first - 2}" in message
  # Following the advice resumes from finite params and trains on.
  config.optimizer.learning_rate = 1e-3
  config.num_train_steps = first + 1
  train_and_evaluate(config, workdir, show_progress=False)
  assert ckpt_lib.Checkpointer(workdir).latest_step() == first + 1


def _data_files(folder):
  """The files holding an item's values: orbax's OCDBT data files (``.../d/*``), else all files."""
  files = [os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs]
  data = [f for f in files if os.path.basename(os.path.dirname(f)) == "d"]
  return data or files


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # tensorstore callbacks on a closed loop
@pytest.mark.parametrize("part", ["state", "meta"])
def test_truncated_latest_checkpoint_falls_back_to_the_previous_one(tiny_config, tmp_path, caplog, part):
  config = _quiet(tiny_config, 4)
  config.checkpoint_every = 2
  straight = str(tmp_path / "straight")
  train_and_evaluate(config, straight, show_progress=False)
  workdir = str(tmp_path / "run")
  train_and_evaluate(config, workdir, show_progress=False)
  # Every data file of the item: which file holds the params (not only the optimizer state)
  # depends on how orbax packs them.
  for victim in _data_files(os.path.join(workdir, "checkpoints", "4", part)):
    with open(victim, "r+b") as f:
      f.truncate(os.path.getsize(victim) // 2)
  # load / predict: one warning line, the previous step.
  _, abstract = workdir_lib.abstract_model(config)
  _, _, step = workdir_lib.restore_params(workdir, abstract)
  assert step == 2
  assert any("checkpoint step 4" in r.getMessage() and "unreadable" in r.getMessage() for r in caplog.records)
  # train: resumes from step 2, sets step 4 aside, and ends where an uninterrupted run does.
  train_and_evaluate(config, workdir, show_progress=False)
  assert [p.split("-")[:2] for p in os.listdir(os.path.join(workdir, "checkpoints_set_aside"))] == [
      ["4", "unreadable"]]
  assert _digest(workdir) == _digest(straight)


def test_resume_keeps_each_metrics_row_once(tiny_config, tmp_path):
  config = _quiet(tiny_config, 6)
  config.log_every = 1
  config.checkpoint_every = 2
  straight = str(tmp_path / "straight")
  train_and_evaluate(config, straight, show_progress=False)
  workdir = str(tmp_path / "run")
  train_and_evaluate(config, workdir, show_progress=False, until_step=3)
  # As if killed after logging step 3 but before its checkpoint: the latest is step 2.
  ckpt_lib.Checkpointer(workdir).manager.delete(3)
  train_and_evaluate(config, workdir, show_progress=False)
  rows = [r for r in read_rows(workdir) if "train/loss" in r]
  assert [r["step"] for r in rows] == list(range(1, 7))
  expected = {r["step"]: r["train/loss"] for r in read_rows(straight) if "train/loss" in r}
  np.testing.assert_allclose([r["train/loss"] for r in rows], [expected[s] for s in range(1, 7)], rtol=1e-6)


def test_params_digest_names_bit_identity():
  a = {"w": np.ones((2, 3), np.float32), "b": {"x": np.zeros(3, np.float32)}}
  b = jax.tree.map(np.copy, a)
  assert workdir_lib.params_digest(a) == workdir_lib.params_digest(b)
  b["b"]["x"][1] = np.float32(1e-30)
  assert workdir_lib.params_digest(a) != workdir_lib.params_digest(b)
  assert workdir_lib.params_digest(a) != workdir_lib.params_digest({"w": a["w"].astype(np.float64), "b": a["b"]})


def _predict_cli(workdir, image, out) -> dict:
  """``flowpose predict`` on one image; exit 0 asserted; the joints it wrote."""
  from flowpose_jax import cli  # pylint: disable=import-outside-toplevel
  with pytest.raises(SystemExit) as e:
    cli.main(["predict", "--workdir", workdir, str(image), "--out", str(out), "--runtime", "jax"])
  assert e.value.code == 0
  with open(os.path.join(out, "frame.json")) as f:
    return json.load(f)["frames"][0]["joints"]


def test_predict_cli_on_a_truncated_latest_checkpoint_uses_the_previous_step(tiny_config, tmp_path):
  """The user's path: ``flowpose predict`` warns once (no traceback), predicts
  with the previous intact step, and leaves the checkpoints where they are."""
  from flowpose_jax import media  # pylint: disable=import-outside-toplevel
  config = _quiet(tiny_config, 4)
  config.checkpoint_every = 2
  workdir = str(tmp_path / "run")
  train_and_evaluate(config, workdir, show_progress=False)
  two = str(tmp_path / "two")  # the same run without its step 4: what predict should fall back to
  shutil.copytree(workdir, two)
  shutil.rmtree(os.path.join(two, "checkpoints", "4"))
  image = tmp_path / "frame.png"
  media.write_image(str(image), np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8))
  latest = _predict_cli(workdir, image, tmp_path / "latest")
  want = _predict_cli(two, image, tmp_path / "two_out")
  assert latest != want  # steps 2 and 4 predict differently, so the comparison below means something
  for victim in _data_files(os.path.join(workdir, "checkpoints", "4", "state")):
    with open(victim, "r+b") as f:
      f.truncate(os.path.getsize(victim) // 2)
  # In a process of its own, as a user runs it: stderr is all they see, and tensorstore's
  # callbacks of the abandoned read land after the restore returned (pytest's hook misses some).
  run = subprocess.run([sys.executable, "-m", "flowpose_jax.cli", "predict", "--workdir", workdir, str(image),
                        "--out", str(tmp_path / "after"), "--runtime", "jax"],
                       capture_output=True, text=True, timeout=600, check=False)
  assert run.returncode == 0, run.stderr
  assert "Traceback" not in run.stdout + run.stderr, run.stderr
  warnings = [line for line in run.stderr.splitlines() if "checkpoint step 4" in line and "unreadable" in line]
  assert len(warnings) == 1, run.stderr
  with open(tmp_path / "after" / "frame.json") as f:
    got = json.load(f)["frames"][0]["joints"]
  assert got == want
  assert os.path.isdir(os.path.join(workdir, "checkpoints", "4"))  # predict never moves checkpoints


def test_closed_loop_callbacks_are_dropped_and_other_unraisables_are_not(monkeypatch):
  """The hook ``first_intact`` installs: asyncio's "Event loop is closed" from a call onto a
  closed loop (what tensorstore's leftover reads raise) is dropped; anything else reaches the
  hook that was there before."""
  import asyncio  # pylint: disable=import-outside-toplevel
  import types  # pylint: disable=import-outside-toplevel
  seen = []
  monkeypatch.setattr(sys, "unraisablehook", seen.append)
  loop = asyncio.new_event_loop()
  loop.close()
  try:
    loop.call_soon_threadsafe(print)
  except RuntimeError as e:
    closed = e
  other = RuntimeError("Event loop is closed")  # the same words, not raised by a closed loop
  workdir_lib.first_intact("ckpts", [1], lambda step: ({"params": {}}, {}))
  workdir_lib.first_intact("ckpts", [1], lambda step: ({"params": {}}, {}))  # installs once
  for exc in (closed, other, ValueError("x")):
    sys.unraisablehook(types.SimpleNamespace(exc_type=type(exc), exc_value=exc, exc_traceback=exc.__traceback__,
                                             err_msg=None, object=None))
  assert [type(u.exc_value) for u in seen] == [RuntimeError, ValueError]
  assert seen[0].exc_value is other


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_when_every_checkpoint_is_truncated_nothing_is_moved_and_a_rerun_refuses_again(tiny_config, tmp_path):
  config = _quiet(tiny_config, 4)
  config.checkpoint_every = 2
  workdir = str(tmp_path / "run")
  train_and_evaluate(config, workdir, show_progress=False)
  for step in ("2", "4"):
    for victim in _data_files(os.path.join(workdir, "checkpoints", step, "state")):
      with open(victim, "r+b") as f:
        f.truncate(os.path.getsize(victim) // 2)
  for _ in range(2):  # the same command twice: refused both times, never a silent start from step 0
    with pytest.raises(workdir_lib.UnreadableCheckpoint, match="no intact checkpoint.*nothing was moved.*--restart"):
      train_and_evaluate(config, workdir, show_progress=False)
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["2", "4"]
  assert not os.path.exists(os.path.join(workdir, "checkpoints_set_aside"))
  train_and_evaluate(config, workdir, show_progress=False, restart=True)  # the user's choice
  assert [p.split("-")[:2] for p in sorted(os.listdir(os.path.join(workdir, "checkpoints_set_aside")))] == [
      ["2", "restart"], ["4", "restart"]]
  assert ckpt_lib.Checkpointer(workdir).latest_step() == 4
