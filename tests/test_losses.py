import jax.numpy as jnp
import numpy as np

from flowpose_jax import losses


def test_masked_joint_is_ignored_whatever_the_prediction():
  rng = np.random.default_rng(0)
  target = rng.uniform(size=(2, 8, 8, 7)).astype(np.float32)
  pred = target.copy()
  weights = np.ones((2, 7), np.float32)
  weights[1, 3] = 0.0
  pred[1, ..., 3] = 1e6  # garbage in a masked map
  s, c = losses.heatmap_l2(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(weights))
  assert float(s) == 0.0
  assert float(c) == 13 * 64


def test_mean_matches_hand_computation():
  pred = np.zeros((1, 2, 2, 7), np.float32)
  target = np.zeros_like(pred)
  target[0, 0, 0, 0] = 2.0
  weights = np.zeros((1, 7), np.float32)
  weights[0, 0] = 1.0
  mean = losses.mean_from(losses.heatmap_l2(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(weights)))
  assert float(mean) == 4.0 / 4
  none = losses.mean_from(losses.heatmap_l2(jnp.asarray(pred), jnp.asarray(target), jnp.zeros((1, 7))))
  assert float(none) == 0.0
