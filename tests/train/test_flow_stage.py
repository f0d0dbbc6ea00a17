"""Staged training: single-frame run -> flowing stage (frozen HeatmapNet) -> evaluation."""

import jax
import numpy as np

from configs import flow as flow_config
from flowpose_jax import inference, jobs
from flowpose_jax.train.loop import train_and_evaluate


def test_flow_stage_starts_from_stage_one_and_keeps_it_frozen(tiny_config, tmp_path):
  stage1 = tiny_config
  stage1.num_train_steps = 6
  stage1.eval_every = 0
  wd1 = str(tmp_path / "stage1")
  train_and_evaluate(stage1, wd1, show_progress=False)

  c = flow_config.get_config("parametric")
  c.flow.n = 1
  c.dataset = stage1.dataset
  c.input = stage1.input
  c.model.width = stage1.model.width
  c.init_from = wd1
  c.batch_size = 8
  c.num_train_steps = 4
  c.log_every = 2
  c.eval_every = 4
  c.eval.max_examples = 8
  c.timelapse_frames = 2
  wd2 = str(tmp_path / "flow")
  train_and_evaluate(c, wd2, show_progress=False)

  p1 = inference.load(wd1).params
  p2 = inference.load(wd2).params
  same = jax.tree.map(lambda a, b: bool(np.array_equal(a, b)), p1, p2["spatial"])
  assert all(jax.tree.leaves(same)), "the frozen HeatmapNet changed"
  kernel = np.asarray(p2["pool"]["kernel"])
  assert kernel.shape == (3, 7) and not np.allclose(kernel, 1 / 3)

  result, table = jobs.evaluate_workdir(wd2, split="test", out_dir=str(tmp_path / "eval"))
  assert "right_wrist" in table and result["counts"].sum() > 0
