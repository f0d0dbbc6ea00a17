"""The jitted, data-parallel training step."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from flowpose_jax import losses
from flowpose_jax.models import apply
from flowpose_jax.parallel import DATA_AXIS, split_batch
from flowpose_jax.train.state import TrainState

TARGET_KEYS = ("targets", "weights", "joints")
OUTPUT_WEIGHTS = {"heatmap": "heatmap_weight", "fusion": "fusion_weight", "pooled": "pooled_weight",
                  "coords": "coords_weight"}


def _output_loss(name: str, pred, batch, loss_cfg):
  """(sum, count) of one model output against the batch's targets."""
  if name == "coords":  # CoordinateNet: L2 on coordinates, in units of the heatmap side
    return losses.coordinate_l2(pred, batch["joints"], batch["weights"], batch["targets"].shape[1])
  return losses.heatmap_loss(pred, batch["targets"], batch["weights"], kind=loss_cfg.kind,
                             scale=loss_cfg.robust_scale)


def loss_and_metrics(params, batch, *, graphdef, loss_cfg, counts: dict | None = None):
  """Total loss and per-output (sum, count) metrics on one batch.

  Args:
    params: pure-dict params.
    batch: the model's inputs ("image" [B, S, S, 3] uint8 for HeatmapNet and
      CoordinateNet; "images" (or precomputed "maps"), "flows", "confidence"
      windows for FlowingNet; ``models.apply``),
      and the targets (``TARGET_KEYS``): "targets" [B, h, w, J], "weights"
      [B, J], "joints" [B, J, 2] heatmap grid.
    loss_cfg: ``config.loss``: per-output weights, ``kind`` and
      ``robust_scale`` of the heatmap loss (``losses.heatmap_loss``).
    counts: {output: count} normalisers of a larger batch this one is part
      of (gradient accumulation, ``output_counts``); default this batch's own.
  """
  model = nnx.merge(graphdef, params)
  outputs = apply(model, batch)
  total = 0.0
  metrics = {}
  counted = batch["weights"] > 0
  for name, pred in outputs.items():
    s, c = _output_loss(name, pred, batch, loss_cfg)
    weight = loss_cfg[OUTPUT_WEIGHTS[name]]
    if weight:
      total = total + weight * losses.mean_from((s, c if counts is None else counts[name]))
    metrics[f"{name}_loss_sum"] = s
    metrics[f"{name}_loss_count"] = c
    if pred.ndim == 4:  # heatmaps: mean peak height of the counted joints' maps
      metrics[f"{name}_max_sum"] = jnp.sum(jnp.max(pred, axis=(1, 2)) * counted)
      metrics[f"{name}_max_count"] = jnp.sum(counted).astype(jnp.float32)
  return total, metrics


def output_counts(params, batch, *, graphdef, loss_cfg) -> dict:
  """{output: count} of each output's loss on ``batch``: counts depend only on the
  batch's weights and the outputs' shapes, so they are computed on zero predictions."""
  shapes = jax.eval_shape(lambda p, b: apply(nnx.merge(graphdef, p), b), params, batch)
  return {name: _output_loss(name, jnp.zeros(sd.shape, sd.dtype), batch, loss_cfg)[1]
          for name, sd in shapes.items()}


def _microbatches(batch: dict, accum: int) -> dict:
  """[B, ...] -> [accum, B / accum, ...]; microbatch k takes rows k, k + accum, ..., so on a
  batch split over devices every microbatch keeps rows on every device (no resharding)."""
  def split(x):
    return jnp.swapaxes(x.reshape((x.shape[0] // accum, accum) + x.shape[1:]), 0, 1)
  return jax.tree.map(split, batch)


def loss_and_grads(params, batch, *, graphdef, loss_cfg, accum: int = 1):
  """((loss, metrics), grads) of one global batch, in ``accum`` sequential microbatches.

  With ``accum`` > 1 each microbatch's loss is normalised by the whole batch's
  counts (``output_counts``) and the gradients are summed, so the result is
  the big batch's (to float summation order) with 1/accum of its activations.
  """
  grad_fn = jax.value_and_grad(functools.partial(loss_and_metrics, graphdef=graphdef, loss_cfg=loss_cfg),
                               has_aux=True)
  if accum == 1:
    return grad_fn(params, batch)
  split_batch(next(iter(batch.values())).shape[0], accum,
              f"microbatches of config.grad_accum_steps={accum}", name="the global batch")
  counts = output_counts(params, batch, graphdef=graphdef, loss_cfg=loss_cfg)
  micro = _microbatches(batch, accum)

  def body(carry, mb):
    out = grad_fn(params, mb, counts=counts)
    return jax.tree.map(jnp.add, carry, out), None

  first = jax.tree.map(lambda x: x[0], micro)
  zeros = jax.tree.map(lambda sd: jnp.zeros(sd.shape, sd.dtype),
                       jax.eval_shape(lambda p, b: grad_fn(p, b, counts=counts), params, first))
  out, _ = jax.lax.scan(body, zeros, micro)
  return out


def train_step(state: TrainState, batch, *, graphdef, tx: optax.GradientTransformation, loss_cfg,
               accum: int = 1):
  """One optimizer step on a global batch; returns (new state, metrics).

  Metrics are sums and counts (divide once on the host); "loss" is the
  weighted total for this step. ``accum``: gradient accumulation over that
  many microbatches (``loss_and_grads``).
  """
  (loss, metrics), grads = loss_and_grads(state.params, batch, graphdef=graphdef, loss_cfg=loss_cfg,
                                          accum=accum)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = dict(metrics, loss=loss, grad_norm=optax.tree.norm(grads))
  return TrainState(step=state.step + 1, params=params, opt_state=opt_state), metrics


def jit_train_step(mesh: Mesh, *, graphdef, tx, loss_cfg, accum: int = 1, donate: bool = True):
  """``train_step`` jitted over ``mesh``: state replicated, batch split on "data"."""
  replicated = NamedSharding(mesh, P())
  split = NamedSharding(mesh, P(DATA_AXIS))
  fn = functools.partial(train_step, graphdef=graphdef, tx=tx, loss_cfg=loss_cfg, accum=accum)
  return jax.jit(fn, in_shardings=(replicated, split), out_shardings=(replicated, replicated),
                 donate_argnums=(0,) if donate else ())
