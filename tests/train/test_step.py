"""The jitted data-parallel step: 8 simulated devices == 1 device."""

import jax
import numpy as np
import pytest

from flowpose_jax.configs import tiny
from flowpose_jax import heatmaps, parallel, workdir as workdir_lib
from flowpose_jax.errors import ConfigError
from flowpose_jax.train import state as state_lib
from flowpose_jax.train import step as step_lib

KEYS = ("image",) + step_lib.TARGET_KEYS


def _batch(config, n, seed=0):
  rng = np.random.default_rng(seed)
  s, h = config.input.size, config.input.size // config.input.stride
  joints = rng.uniform(2, h - 3, (n, 7, 2)).astype(np.float32)
  visible = rng.uniform(size=(n, 7)) > 0.1
  return {"image": rng.integers(0, 256, (n, s, s, 3), dtype=np.uint8),
          "targets": heatmaps.encode(joints, visible, h, config.input.sigma),
          "weights": visible.astype(np.float32), "joints": np.where(visible[..., None], joints, np.nan)}


def _run(config, mesh, batches, accum=1, all_metrics=False):
  graphdef, params = workdir_lib.make_model(config)
  tx = state_lib.make_optimizer(config.optimizer, config.num_train_steps)
  state = parallel.replicate(mesh, state_lib.init_state(params, tx))
  fn = step_lib.jit_train_step(mesh, graphdef=graphdef, tx=tx, loss_cfg=config.loss, accum=accum,
                               donate=False)
  losses, metrics_seen = [], []
  for b in batches:
    state, metrics = fn(state, parallel.to_global_batch(mesh, b, KEYS))
    losses.append(float(metrics["loss"]))
    metrics_seen.append(jax.device_get(metrics))
  if all_metrics:
    return jax.device_get(state.params), losses, metrics_seen
  return jax.device_get(state.params), losses


def test_eight_devices_match_one_device():
  assert jax.device_count() == 8, "conftest should simulate 8 CPU devices"
  config = tiny.get_config()
  config.optimizer.warmup_steps = 0
  # SGD: the update is linear in the gradient, so this compares the gradients
  # themselves (Adam would amplify float-order noise in near-zero gradients).
  config.optimizer.name = "sgd"
  config.optimizer.learning_rate = 0.05
  batches = [_batch(config, config.batch_size, s) for s in range(2)]
  p8, l8 = _run(config, parallel.make_mesh(), batches)
  p1, l1 = _run(config, parallel.make_mesh(jax.devices()[:1]), batches)
  np.testing.assert_allclose(l8, l1, rtol=1e-5)
  flat8, flat1 = jax.tree.leaves(p8), jax.tree.leaves(p1)
  for a, b in zip(flat8, flat1):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
  # and the update is not trivially zero
  _, p0 = workdir_lib.make_model(config)
  assert max(float(np.abs(a - b).max()) for a, b in zip(flat8, jax.tree.leaves(p0))) > 1e-5


def test_batch_not_divisible_by_devices_names_both_numbers():
  config = tiny.get_config()
  mesh = parallel.make_mesh()
  with pytest.raises(ConfigError, match=r"local batch .image.=6 does not split over the 8 local devices"):
    parallel.to_global_batch(mesh, _batch(config, 6), KEYS)


def test_gradient_accumulation_equals_the_big_batch():
  config = tiny.get_config()
  config.optimizer.warmup_steps = 0
  config.optimizer.name = "sgd"
  config.optimizer.learning_rate = 0.05
  config.batch_size = 16
  batches = [_batch(config, 16, s) for s in range(2)]  # 10 % of joints masked: unequal counts per microbatch
  mesh = parallel.make_mesh()
  p1, l1, m1 = _run(config, mesh, batches, all_metrics=True)
  p2, l2, m2 = _run(config, mesh, batches, accum=2, all_metrics=True)
  np.testing.assert_allclose(l2, l1, rtol=1e-5)
  for k in ("fusion_loss_sum", "fusion_loss_count", "heatmap_max_count"):
    np.testing.assert_allclose(m2[0][k], m1[0][k], rtol=1e-5)
  for a, b in zip(jax.tree.leaves(p2), jax.tree.leaves(p1)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
  with pytest.raises(ConfigError, match="grad_accum_steps=3"):
    _run(config, parallel.make_mesh(jax.devices()[:1]), batches[:1], accum=3)
