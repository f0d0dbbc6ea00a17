"""CoordinateNet trains, evaluates and predicts through the same commands as HeatmapNet."""

import json
import os

import numpy as np

import flowpose_jax
from flowpose_jax import jobs
from flowpose_jax.train.loop import train_and_evaluate


def test_coordinate_net_end_to_end(tiny_config, tmp_path):
  config = tiny_config
  config.model.name = "coordinate_net"
  del config.model.fusion, config.model.final_relu
  config.num_train_steps = 40
  config.log_every = 10
  config.eval_every = 40
  config.eval.max_examples = 16
  workdir = str(tmp_path / "coord")
  train_and_evaluate(config, workdir, show_progress=False)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  loss = {r["step"]: r["train/coords_loss"] for r in rows if "train/coords_loss" in r}
  assert loss[40] < 0.8 * loss[10], loss
  assert any("val/acc_6px/average" in r for r in rows)
  result, table = jobs.evaluate_workdir(workdir, split="validation")
  assert result["counts"].sum() > 0 and "average" in table
  model = flowpose_jax.load(workdir)
  joints, conf = model.joints(np.zeros((2, 90, 120, 3), np.uint8))
  assert joints.shape == (2, 7, 2) and np.isfinite(joints).all() and conf.shape == (2, 7)
