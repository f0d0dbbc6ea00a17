"""The jitted, data-parallel training step."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from flowpose_jax import losses
from flowpose_jax.train.state import TrainState

DATA_AXIS = "data"
TARGET_KEYS = ("targets", "weights")
OUTPUT_WEIGHTS = {"heatmap": "heatmap_weight", "fusion": "fusion_weight", "pooled": "pooled_weight"}



def make_mesh(devices=None) -> Mesh:
  """1-D mesh over ``devices`` (default: all), axis "data"."""
  devices = jax.devices() if devices is None else list(devices)
  return jax.make_mesh((len(devices),), (DATA_AXIS,), axis_types=(jax.sharding.AxisType.Auto,),
                       devices=devices)


def loss_and_metrics(params, batch, *, graphdef, loss_cfg):
  """Total loss and per-output (sum, count) metrics on one batch.

  Args:
    params: pure-dict params.
    batch: the model's inputs (``INPUTS``: "image" [B, S, S, 3] uint8 for
      HeatmapNet; "images", "flows", "confidence" windows for FlowingNet),
      "targets" [B, h, w, J], "weights" [B, J].
  """
  model = nnx.merge(graphdef, params)
  outputs = model(*[batch[k] for k in model.INPUTS])
  total = 0.0
  metrics = {}
  for name, pred in outputs.items():
    s, c = losses.heatmap_l2(pred, batch["targets"], batch["weights"])
    weight = loss_cfg.get(OUTPUT_WEIGHTS[name], 1.0)
    if weight:
      total = total + weight * losses.mean_from((s, c))
    metrics[f"{name}_loss_sum"] = s
    metrics[f"{name}_loss_count"] = c
    metrics[f"{name}_max_sum"] = jnp.sum(jnp.max(pred, axis=(1, 2)) * (batch["weights"] > 0))
    metrics[f"{name}_max_count"] = jnp.sum(batch["weights"] > 0).astype(jnp.float32)
  return total, metrics


def train_step(state: TrainState, batch, *, graphdef, tx: optax.GradientTransformation, loss_cfg):
  """One optimizer step on a global batch; returns (new state, metrics).

  Metrics are sums and counts (divide once on the host); "loss" is the
  weighted total for this step.
  """
  grad_fn = jax.value_and_grad(functools.partial(loss_and_metrics, graphdef=graphdef, loss_cfg=loss_cfg),
                               has_aux=True)
  (loss, metrics), grads = grad_fn(state.params, batch)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = dict(metrics, loss=loss, grad_norm=optax.tree.norm(grads))
  return TrainState(step=state.step + 1, params=params, opt_state=opt_state), metrics


def jit_train_step(mesh: Mesh, *, graphdef, tx, loss_cfg, donate: bool = True):
  """``train_step`` jitted over ``mesh``: state replicated, batch split on "data"."""
  replicated = NamedSharding(mesh, P())
  split = NamedSharding(mesh, P(DATA_AXIS))
  fn = functools.partial(train_step, graphdef=graphdef, tx=tx, loss_cfg=loss_cfg)
  return jax.jit(fn, in_shardings=(replicated, split), out_shardings=(replicated, replicated),
                 donate_argnums=(0,) if donate else ())


def to_global_batch(mesh: Mesh, local_batch: dict, keys=("image",) + TARGET_KEYS) -> dict:
  """Host-local numpy batch -> global jax arrays sharded on "data".

  Raises ValueError naming both numbers when the local batch does not split
  evenly over this host's devices.
  """
  n_local = len(mesh.local_devices)
  out = {}
  sharding = NamedSharding(mesh, P(DATA_AXIS))
  for k in keys:
    x = np.asarray(local_batch[k])
    if x.shape[0] % n_local:
      raise ValueError(f"local batch of {x.shape[0]} does not split over {n_local} local devices; "
                       f"set config.batch_size to a multiple of {n_local * jax.process_count()}")
    out[k] = jax.make_array_from_process_local_data(sharding, x)
  return out


def replicate(mesh: Mesh, tree):
  """Places a pytree replicated on every device of ``mesh``."""
  return jax.device_put(tree, NamedSharding(mesh, P()))


def make_predict_fn(mesh: Mesh, graphdef, inputs: tuple[str, ...] = ("image",), output: str | None = None):
  """Jitted ``(params, batch) -> heatmaps [B, h, w, J]``.

  ``batch`` is a dict holding the model's ``inputs`` (or, for single-frame
  models, the images [B, S, S, 3] uint8 themselves). The batch is split over
  "data" when it divides evenly, else computed whole. ``output`` picks a
  model output ("heatmap" = conv8, "fusion", "pooled"); default: the final one.
  """
  from flowpose_jax.models import final_heatmaps  # pylint: disable=import-outside-toplevel

  def forward(params, *args):
    outputs = nnx.merge(graphdef, params)(*args)
    return final_heatmaps(outputs) if output is None else outputs[output]

  split = jax.jit(forward, in_shardings=(NamedSharding(mesh, P()),) + (NamedSharding(mesh, P(DATA_AXIS)),) * len(inputs))
  whole = jax.jit(forward)
  n = mesh.size

  def predict(params, batch):
    if not isinstance(batch, dict):
      batch = {inputs[0]: batch}
    args = [np.asarray(batch[k]) for k in inputs]
    fn = split if args[0].shape[0] % n == 0 else whole
    return np.asarray(fn(params, *args))

  return predict
