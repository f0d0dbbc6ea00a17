"""Tiny: trains in well under a minute on a 2-core CPU; used by the tests.

  flowpose train --config configs/tiny.py --workdir /tmp/tiny
"""

from configs import common


def get_config(arg=None):
  del arg
  c = common.base_config()
  c.dataset.name = "synthetic_signers/tiny"
  c.input.size = 64
  c.model.width = 0.125
  c.batch_size = 8
  c.num_train_steps = 40
  c.optimizer.warmup_steps = 5
  c.log_every = 10
  c.eval_every = 40
  c.checkpoint_every = 20
  c.timelapse_every = 20
  c.timelapse_frames = 2
  c.eval.batch_size = 8
  return c
