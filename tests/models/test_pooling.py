"""Tests of the temporal poolers over warped heatmap stacks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from flowpose_jax.flow import warp
from flowpose_jax.models.pooling import (POOLING, DataDependentPooling, MaxPooling,
                                         ParametricPooling, SumPooling, stack_and_warp)


def _stack(seed, b=2, t=5, h=6, w=7, j=7):
  return jnp.asarray(np.random.default_rng(seed).uniform(0, 1, (b, t, h, w, j)).astype(np.float32))


def _count(module):
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(module, nnx.Param)))


def test_parametric_parameter_count_paper_size():
  assert _count(ParametricPooling(31, 7)) == 7 * 31 + 7 == 224


def test_parametric_init_is_average():
  x = _stack(0)
  np.testing.assert_allclose(ParametricPooling(5, 7)(x), x.mean(1), atol=1e-6)


def test_parametric_one_hot_centre_reproduces_centre_frame():
  x = _stack(1)
  pool = ParametricPooling(5, 7)
  kernel = np.zeros((5, 7), np.float32); kernel[2] = 1.0
  pool.kernel[...] = jnp.asarray(kernel)
  np.testing.assert_array_equal(pool(x), x[:, 2])


def test_parametric_is_per_joint():
  x = _stack(2)
  pool = ParametricPooling(5, 7)
  kernel = np.zeros((5, 7), np.float32); kernel[0, 3] = 2.0; kernel[4, 5] = -1.0
  pool.kernel[...] = jnp.asarray(kernel)
  pool.bias[...] = jnp.arange(7, dtype=jnp.float32)
  out = np.asarray(pool(x))
  np.testing.assert_allclose(out[..., 3], 2 * x[:, 0, ..., 3] + 3, atol=1e-6)
  np.testing.assert_allclose(out[..., 5], -x[:, 4, ..., 5] + 5, atol=1e-6)
  np.testing.assert_allclose(out[..., 0], 0.0)


def test_sum_and_max_on_hand_made_stack():
  x = np.zeros((1, 3, 2, 2, 1), np.float32)
  x[0, :, 0, 0, 0] = [1.0, 2.0, 6.0]
  x[0, :, 1, 1, 0] = [-3.0, 0.0, -1.0]
  s = np.asarray(SumPooling(3, 1)(jnp.asarray(x)))
  m = np.asarray(MaxPooling(3, 1)(jnp.asarray(x)))
  assert s[0, 0, 0, 0] == pytest.approx(3.0) and s[0, 1, 1, 0] == pytest.approx(-4 / 3)
  assert m[0, 0, 0, 0] == 6.0 and m[0, 1, 1, 0] == 0.0 and m[0, 0, 1, 0] == 0.0


def test_data_dependent_init_is_near_average_and_weights_sum_to_one():
  x = _stack(3)
  conf = _stack(4, j=1)
  pool = DataDependentPooling(5, 7, rngs=nnx.Rngs(0))
  np.testing.assert_allclose(pool(x, conf), x.mean(1), atol=2e-3)
  np.testing.assert_allclose(pool(x), x.mean(1), atol=2e-3)
  wts = pool.weights(x, conf)
  assert wts.shape == x.shape
  np.testing.assert_allclose(wts.sum(1), 1.0, atol=1e-5)
  with pytest.raises(ValueError, match="confidence must be"):
    pool(x, conf[..., :0])


def test_data_dependent_every_parameter_gets_gradient():
  x = _stack(5)
  conf = _stack(6, j=1)
  target = x[:, 2]
  pool = DataDependentPooling(5, 7, rngs=nnx.Rngs(0))

  def loss(model):
    return jnp.sum((model(x, conf) - target) ** 2)

  grads = nnx.grad(loss)(pool)
  for path, g in jax.tree_util.tree_leaves_with_path(grads):
    assert np.isfinite(np.asarray(g)).all(), path
    assert np.abs(np.asarray(g)).max() > 0, path
  # A few SGD steps move the output towards the centre frame.
  before = float(loss(pool))
  step = nnx.jit(lambda m: nnx.grad(loss)(m))
  for _ in range(20):
    g = step(pool)
    nnx.update(pool, jax.tree.map(lambda p, d: p - 0.05 * d, nnx.state(pool, nnx.Param), g))
  assert float(loss(pool)) < before


@pytest.mark.parametrize("name", sorted(POOLING))
def test_registry_builds_and_jits(name):
  pool = POOLING[name](5, 7, rngs=nnx.Rngs(0))
  x = _stack(7)
  out = nnx.jit(lambda m, a: m(a, None))(pool, x)
  assert out.shape == (2, 6, 7, 7)
  with pytest.raises(ValueError, match="pooling expects"):
    pool(x[:, :4])


def test_stack_and_warp_matches_per_frame_warp():
  x = _stack(8)
  flows = jnp.asarray(np.random.default_rng(9).uniform(-2, 2, (2, 5, 6, 7, 2)).astype(np.float32))
  flows = flows.at[:, 2].set(0.0)
  warped, valid = stack_and_warp(x, flows)
  assert warped.shape == x.shape and valid.shape == (2, 5, 6, 7, 1)
  np.testing.assert_array_equal(warped[:, 2], x[:, 2])
  ref, ref_valid = warp(x[:, 1], flows[:, 1])
  np.testing.assert_allclose(warped[:, 1], ref, atol=1e-6)
  np.testing.assert_array_equal(valid[:, 1], ref_valid)
