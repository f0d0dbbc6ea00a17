"""The demo: CPU-sized HeatmapNet + fusion on the synthetic signer videos.

  flowpose train --config configs/demo.py --workdir workdirs/demo
  (or `flowpose demo`, which also builds the data, evaluates and renders)

Expected: 75-78 % average accuracy at d = 6 px on the synthetic test split after
about 7 min on a 2-core CPU (1800 steps of batch 4; 77.8 % and 75.5 % on two
machines, README).

arg: the synthetic_signers builder config to train on (default "demo";
"demo_noisy" has noisy train labels), e.g. configs/demo.py:demo_noisy. The
builder refuses an unknown name before anything is trained.

Input 128x128 (32x32 heatmaps, stride 4 as in the paper), width 0.25 of the
paper's channels. Synthetic frames are 128x128, so 1 frame px = 1 input px and
d = 6 px is 1.5 heatmap px, as for the paper's 256 -> 64 model.
"""

from flowpose_jax.configs import common


def get_config(arg=None):
  c = common.base_config()
  c.dataset.name = "synthetic_signers/demo"
  c.input.size = 128
  c.model.width = 0.25
  # On a 2-core CPU the train step runs at ~17 images/s whatever the batch, so
  # in a fixed time small batches give more updates. Measured (val average at
  # d = 6 px after ~7-8 min): batch 16 x 450 steps, rotation 40: 46 %; batch 8 x 900,
  # rotation 20: 69 %; batch 4 x 1800, rotation 20: 74 %.
  c.batch_size = 4
  c.num_train_steps = 1800
  c.optimizer.learning_rate = 2e-3
  c.augment.rotation = 20.0  # the paper's 40 deg slows learning in this short budget
  c.log_every = 50
  c.eval_every = 600
  c.checkpoint_every = 600
  c.timelapse_every = 300
  c.eval.max_examples = 200  # validation during training; `evaluate` scores whole splits
  if arg:
    c.dataset.name = f"synthetic_signers/{arg}"
  return c
