import jax
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


def test_robust_losses_match_l2_on_small_residuals_and_bound_outliers():
  rng = np.random.default_rng(1)
  target = rng.uniform(size=(2, 8, 8, 7)).astype(np.float32)
  weights = jnp.ones((2, 7))
  small = jnp.asarray(target + rng.normal(0, 1e-3, target.shape).astype(np.float32))
  l2 = losses.heatmap_l2(small, jnp.asarray(target), weights)
  for kind in ("huber", "tukey"):
    s, c = losses.heatmap_loss(small, jnp.asarray(target), weights, kind=kind, scale=0.5)
    np.testing.assert_allclose(float(s), float(l2[0]), rtol=1e-3)
    assert float(c) == float(l2[1])
  # One pixel off by 5 (a wrong label): L2 grows with it, Huber linearly, Tukey not at all past c.
  r = np.array([0.0, 0.25, 1.0, 5.0], np.float32).reshape(1, 1, 4, 1)
  zeros, w1 = jnp.zeros_like(r), jnp.ones((1, 1))
  per_pixel = {k: [float(losses.heatmap_loss(jnp.asarray(r[:, :, i:i + 1]), zeros[:, :, i:i + 1], w1,
                                             kind=k, scale=0.5)[0]) for i in range(4)]
               for k in losses.LOSSES}
  np.testing.assert_allclose(per_pixel["l2"], [0, 0.0625, 1, 25], rtol=1e-6)
  np.testing.assert_allclose(per_pixel["huber"], [0, 0.0625, 0.75, 4.75], rtol=1e-6)
  np.testing.assert_allclose(per_pixel["tukey"][3], per_pixel["tukey"][2], rtol=1e-6)  # capped
  np.testing.assert_allclose(per_pixel["tukey"][2], 0.25 / 3, rtol=1e-6)
  grad = jax.grad(lambda p: losses.heatmap_loss(p, zeros, w1, kind="tukey", scale=0.5)[0])(jnp.asarray(r))
  assert float(grad[0, 0, 3, 0]) == 0.0 and float(grad[0, 0, 1, 0]) > 0.0


def test_robust_loss_ignores_masked_joints():
  pred = jnp.full((1, 4, 4, 7), 9.0)
  weights = jnp.zeros((1, 7)).at[0, 2].set(1.0)
  s, c = losses.heatmap_loss(pred.at[..., 2].set(0.0), jnp.zeros_like(pred), weights, kind="huber", scale=0.5)
  assert float(s) == 0.0 and float(c) == 16


def test_coordinate_l2_masks_missing_joints_and_normalises_by_the_map_side():
  pred = jnp.zeros((1, 7, 2)).at[0, 0].set(jnp.array([16.0, 0.0]))
  target = np.zeros((1, 7, 2), np.float32)
  target[0, 1] = np.nan  # missing: NaN must not leak into the loss
  weights = jnp.ones((1, 7)).at[0, 1].set(0.0)
  s, c = losses.coordinate_l2(pred, jnp.asarray(target), weights, size=32)
  assert float(s) == 0.25 and float(c) == 12.0  # (16 / 32)^2 over 6 joints x 2 coordinates
  grad = jax.grad(lambda p: losses.coordinate_l2(p, jnp.asarray(target), weights, 32)[0])(pred)
  assert np.isfinite(np.asarray(grad)).all() and float(grad[0, 1].sum()) == 0.0
