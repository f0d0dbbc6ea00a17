"""The paper-sized config builds and runs one real training step on the CPU."""

import jax
import numpy as np

from flowpose_jax.configs import bbc_pose_spatial
from flowpose_jax import heatmaps, parallel, workdir as workdir_lib
from flowpose_jax.train import state as state_lib
from flowpose_jax.train import step as step_lib


def test_paper_config_runs_a_training_step():
  config = bbc_pose_spatial.get_config()
  config.model.dtype = "float32"  # bfloat16 convs are slow on CPUs without AMX
  assert config.input.size == 256 and config.model.width == 1.0
  graphdef, params = workdir_lib.make_model(config)
  assert sum(x.size for x in jax.tree.leaves(params)) == 17_615_886
  tx = state_lib.make_optimizer(config.optimizer, config.num_train_steps)
  mesh = parallel.make_mesh(jax.devices()[:1])
  state = parallel.replicate(mesh, state_lib.init_state(params, tx))
  rng = np.random.default_rng(0)
  joints = rng.uniform(5, 58, (1, 7, 2)).astype(np.float32)
  batch = {"image": rng.integers(0, 256, (1, 256, 256, 3), dtype=np.uint8),
           "targets": heatmaps.encode(joints, np.ones((1, 7), bool), 64),
           "weights": np.ones((1, 7), np.float32), "joints": joints}
  fn = step_lib.jit_train_step(mesh, graphdef=graphdef, tx=tx, loss_cfg=config.loss)
  new_state, metrics = fn(state, parallel.to_global_batch(mesh, batch, ("image",) + step_lib.TARGET_KEYS))
  assert int(new_state.step) == 1
  assert np.isfinite(float(metrics["loss"])) and float(metrics["loss"]) > 0
