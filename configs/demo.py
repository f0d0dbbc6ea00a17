"""The demo: CPU-sized HeatmapNet + fusion on the synthetic signer videos.

  flowpose train --config configs/demo.py --workdir workdirs/demo
  (or `flowpose demo`, which also builds the data, evaluates and renders)

Input 128x128 (32x32 heatmaps, stride 4 as in the paper), width 0.25 of the
paper's channels. Synthetic frames are 128x128, so 1 frame px = 1 input px and
d = 6 px is 1.5 heatmap px, as for the paper's 256 -> 64 model.
"""

from configs import common


def get_config(arg=None):
  c = common.base_config()
  c.dataset.name = "synthetic_signers/demo"
  c.input.size = 128
  c.model.width = 0.25
  c.batch_size = 16
  c.num_train_steps = 450  # ~15 img/s on 2 CPU cores -> ~8 min
  c.optimizer.learning_rate = 2e-3
  c.log_every = 20
  c.eval_every = 150
  c.checkpoint_every = 150
  c.timelapse_every = 150
  c.eval.max_examples = 200  # validation during training; `evaluate` scores whole splits
  if arg:
    c.dataset.name = f"synthetic_signers/{arg}"
  return c
