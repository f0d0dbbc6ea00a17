"""Tiny: a smoke run of the whole training path; used by the tests.

  flowpose train --config configs/tiny.py --workdir /tmp/tiny

Trains 40 steps of batch 8 (64x64 input, width 0.125) on synthetic_signers/tiny
in about 12 s on a 2-core CPU and writes a workdir that `evaluate` and
`predict` accept; its accuracy is not a result (too few steps to learn poses).
Takes no arg.
"""

from flowpose_jax.configs import common


def get_config(arg=None):
  if arg:
    raise ValueError(f"configs/tiny.py takes no arg, got {arg!r}; use --config configs/tiny.py")
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
