import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from flowpose_jax.configs import flow as flow_config
from flowpose_jax.models import FlowingNet, HeatmapNet, final_heatmaps
from flowpose_jax import workdir as workdir_lib
from flowpose_jax.train import state as state_lib


def _model(pooling="parametric", t=3):
  return FlowingNet(num_frames=t, pooling=pooling, width=0.125, rngs=nnx.Rngs(0))


def test_zero_flow_parametric_init_is_the_window_average():
  model = _model()
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (2, 3, 32, 32, 3), dtype=np.uint8)
  flows = np.zeros((2, 3, 8, 8, 2), np.float32)
  out = model(images, flows, np.ones((2, 3, 8, 8, 1), np.float32))
  per_frame = final_heatmaps(model.spatial(images.reshape(6, 32, 32, 3))).reshape(2, 3, 8, 8, 7)
  np.testing.assert_allclose(out["pooled"], per_frame.mean(1), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(out["fusion"], per_frame[:, 1], rtol=1e-5, atol=1e-6)


def test_frozen_spatial_gets_no_update_and_pool_does():
  config = flow_config.get_config()
  config.model.width = 0.125
  graphdef, params = workdir_lib.make_model(config)
  assert set(params) == {"spatial", "pool"}
  tx = state_lib.make_optimizer(config.optimizer, 10, freeze=("spatial",))
  opt_state = tx.init(params)
  model = nnx.merge(graphdef, params)
  t = config.model.num_frames
  images = np.random.default_rng(1).integers(0, 256, (1, t, 32, 32, 3), dtype=np.uint8)
  target = jnp.zeros((1, 8, 8, 7)).at[0, 4, 4].set(1.0)

  def loss(p):
    out = nnx.merge(graphdef, p)(images, jnp.zeros((1, t, 8, 8, 2)), jnp.ones((1, t, 8, 8, 1)))
    return jnp.mean((out["pooled"] - target) ** 2)

  grads = jax.grad(loss)(params)
  for _ in range(3):
    updates, opt_state = tx.update(grads, opt_state, params)
    params = jax.tree.map(lambda a, b: a + b, params, updates)
  _, p0 = workdir_lib.make_model(config)
  moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), params, p0)
  assert max(jax.tree.leaves(moved["spatial"])) == 0.0
  assert max(jax.tree.leaves(moved["pool"])) > 0.0
  assert isinstance(model.spatial, HeatmapNet)

