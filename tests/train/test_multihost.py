"""Two processes x 4 CPU devices train like one process x 8 devices (launch/local.sh).

The pair runs through ``launch/local.sh`` (``flowpose train --distributed``),
each process reading only its shard of the training elements
(``pipeline.make_train_iterator``: elements ``i::2``). Its global batch is
process 0's local batch followed by process 1's, so the one-process reference
below reads the same two shards itself and concatenates them in that order:
the same global batches on the same 8-device mesh. The pair is preempted
(SIGTERM to process 1 only: JAX's preemption sync point makes both save the
same step), resumed, validated, and its final params match the reference.
"""

import os
import re
import signal
import subprocess
import time

import jax
import numpy as np
import pytest

from flowpose_jax import parallel, workdir as workdir_lib
from flowpose_jax.data import pipeline
from flowpose_jax.data.sources import load_source
from flowpose_jax.models import model_inputs
from flowpose_jax.train import state as state_lib
from flowpose_jax.train import step as step_lib
from flowpose_jax.train.writer import read_rows

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROCESSES = 2
# Params after the same steps: the pair's gradient all-reduce runs over gloo, the
# reference's inside one process, so float summation order differs. SGD, not Adam:
# Adam's m / sqrt(v) turns the sign flip of a ~1e-9 gradient under reordering into
# a full step (the same global batch with its rows permuted moved Adam's params by
# 3e-4), so only SGD makes a tight tolerance meaningful. The reordering noise
# grows with the steps (SIGTERM lands at a different step each run): measured
# 1.3e-6 after 9 steps on CI's 2 cores, so ATOL has headroom. Reading each host's
# data one batch late moves the params by ~2e-3, far more than ATOL (checked below).
ATOL = 1e-5
OVERRIDES = ["--config.optimizer.schedule=constant",  # so the step count set on resume does not move it
             "--config.optimizer.name=sgd", "--config.optimizer.learning_rate=0.05",
             "--config.checkpoint_every=3", "--config.eval_every=3", "--config.timelapse_every=3",
             "--config.log_every=1", "--config.eval.max_examples=8"]


def _env():
  env = dict(os.environ, PYTHONPATH=ROOT, FLOWPOSE_LOCAL_DEVICES="4")
  env.pop("XLA_FLAGS", None)  # the test session's 8 devices must not reach the pair
  return env


def _launch(workdir, data_dir, steps, log):
  cmd = ["bash", os.path.join(ROOT, "launch", "local.sh"), str(PROCESSES), "configs/tiny.py", workdir,
         "--data_dir", data_dir, f"--config.num_train_steps={steps}", *OVERRIDES]
  return subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)


def _finish(proc, timeout, log_path):
  try:
    rc = proc.wait(timeout=timeout)
  except subprocess.TimeoutExpired:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    pytest.fail(f"launch/local.sh did not finish in {timeout} s:\n{open(log_path).read()[-3000:]}")
  return rc


def _process(launcher_pid, process_id):
  """The pid of ``--process_id process_id`` among the launcher's children, or None."""
  out = subprocess.run(["pgrep", "-P", str(launcher_pid)], capture_output=True, text=True).stdout
  for pid in map(int, out.split()):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
      args = f.read().split(b"\0")
    if b"--process_id" in args and args[args.index(b"--process_id") + 1] == str(process_id).encode():
      return pid
  return None


def _max_abs_diff(a, b):
  return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in
             zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _reference_params(config, source, steps, skip=0):
  """One process, 8 devices, global batch = shard 0's local batch + shard 1's (after ``skip`` batches)."""
  mesh = parallel.make_mesh()
  assert mesh.size == 8
  graphdef, params = workdir_lib.make_model(config)
  tx = state_lib.make_optimizer(config.optimizer, config.num_train_steps)
  state = parallel.replicate(mesh, state_lib.init_state(params, tx))
  train_step = step_lib.jit_train_step(mesh, graphdef=graphdef, tx=tx, loss_cfg=config.loss)
  shards = [pipeline.make_train_iterator(source, config, shard_index=i, shard_count=PROCESSES)
            for i in range(PROCESSES)]
  keys = model_inputs(config.model) + step_lib.TARGET_KEYS
  for _ in range(skip):
    for it in shards:
      next(it)
  for _ in range(steps):
    parts = [next(it) for it in shards]
    batch = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    state, _ = train_step(state, parallel.to_global_batch(mesh, batch, keys))
  return jax.device_get(state.params)


def test_two_processes_train_preempt_resume_like_one(tiny_config, tiny_data_dir, tmp_path):
  workdir = str(tmp_path / "pair")
  log_path = str(tmp_path / "pair.log")
  t0 = time.perf_counter()
  # 1. Train (long schedule), SIGTERM to process 1 once step 3 is checkpointed.
  with open(log_path, "w") as log:
    proc = _launch(workdir, tiny_data_dir, 200, log)
    deadline = time.time() + 900  # guards against a hang; a loaded 2-core CI can take minutes
    while not os.path.isdir(os.path.join(workdir, "checkpoints", "3")) and time.time() < deadline:
      if proc.poll() is not None:
        break
      time.sleep(0.5)
    pid = _process(proc.pid, 1)
    assert pid is not None, open(log_path).read()[-3000:]
    os.kill(pid, signal.SIGTERM)
    rc = _finish(proc, 300, log_path)
  text = open(log_path).read()
  assert rc == 0, text[-3000:]
  stopped = sorted({int(s) for s in re.findall(r"stopped by SIGTERM after step (\d+)", text)})
  assert len(stopped) == 1 and text.count("stopped by SIGTERM") == PROCESSES, text[-3000:]
  n = stopped[0]
  ckpt = os.path.join(workdir, "checkpoints")
  assert max(int(s) for s in os.listdir(ckpt) if s.isdigit()) == n
  assert not [s for s in os.listdir(ckpt) if "tmp" in s]
  data = sorted(os.listdir(os.path.join(ckpt, str(n), "data")))
  assert [f for f in data if f.endswith(".json")] == ["process_0-of-2.json", "process_1-of-2.json"]
  # 2. Resume the pair for two more steps (validation and timelapse at the end).
  total = n + 2
  with open(log_path, "w") as log:
    rc = _finish(_launch(workdir, tiny_data_dir, total, log), 900, log_path)
  assert rc == 0, open(log_path).read()[-3000:]
  seconds = time.perf_counter() - t0
  rows = read_rows(workdir)
  train_steps = [r["step"] for r in rows if "train/loss" in r]
  assert train_steps == list(range(1, total + 1))
  assert any(k.startswith("val/") for r in rows if r["step"] == total for k in r)
  assert os.path.exists(os.path.join(workdir, "timelapse", f"step_{total:07d}.png"))
  # 3. The same params as one process on 8 devices over the same global batches.
  config = tiny_config
  config.optimizer.schedule = "constant"
  config.optimizer.name = "sgd"
  config.optimizer.learning_rate = 0.05
  config.num_train_steps = 200
  source = load_source(config.dataset.name, config.dataset.train_split, config.dataset.data_dir)
  expected = _reference_params(config, source, total)
  _, abstract = workdir_lib.abstract_model(config)
  got, meta, step = workdir_lib.restore_params(workdir, abstract)
  assert step == total and meta["num_devices"] == 8
  diff = _max_abs_diff(jax.device_get(got), expected)
  late = _max_abs_diff(expected, _reference_params(config, source, total, skip=1))
  print(f"\ntwo processes: {seconds:.0f} s (train, SIGTERM at step {n}, resume to {total}); "
        f"max |params - reference| {diff:.2e}; a reference one batch late differs by {late:.2e}")
  assert diff <= ATOL
  assert late > 20 * ATOL
