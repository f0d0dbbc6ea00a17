"""Paper-sized single-frame model: HeatmapNet (conv1-8) + release fusion.

  flowpose train --config configs/bbc_pose_spatial.py --workdir workdirs/spatial
  flowpose train --config configs/bbc_pose_spatial.py:synthetic_signers/large --workdir ...

Expected: not measured in this repo yet (it needs an accelerator). 256x256x3 in,
64x64x7 out, 17,615,886 parameters.

arg: the TFDS dataset name[/config] to train on (default
synthetic_signers/large; e.g. bbc_pose/extended with its manual files); an
unknown name is refused when the dataset is built, before training. Too slow to
train on a CPU (≈6.5 s per 2-image step, ../shared/STACK.md): use an
accelerator. Optimiser: Adam; `--config.optimizer.name=sgd` with lr 2e-3 and
momentum 0.95 is the release's SGD (lr 1e-8 on a summed loss) rescaled to a
mean loss (docs/paper.md §2).
"""

from flowpose_jax.configs import common


def get_config(arg=None):
  c = common.base_config()
  c.dataset.name = arg or "synthetic_signers/large"
  c.input.size = 256
  c.model.width = 1.0
  c.model.dtype = "bfloat16"
  c.batch_size = 32
  c.num_train_steps = 30000
  c.optimizer.learning_rate = 5e-4
  c.optimizer.warmup_steps = 500
  c.log_every = 100
  c.eval_every = 2000
  c.checkpoint_every = 2000
  c.timelapse_every = 1000
  c.eval.max_examples = 2000
  return c
