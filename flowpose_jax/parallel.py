"""Devices: the data-parallel mesh, global batches, replicated params, the sharded forward pass.

Shared by training and inference (one 1-D mesh, axis "data": params
replicated ``P()``, batches split ``P("data")``); nothing here knows about
optimizers or data pipelines.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from flowpose_jax.errors import ConfigError

DATA_AXIS = "data"


def split_batch(batch_size: int, parts: int, what: str, name: str = "config.batch_size") -> int:
  """The per-part batch of ``batch_size`` split evenly over ``parts`` hosts or devices.

  The one home of the divisibility rule: raises ConfigError naming the
  batch (``name``), both numbers and the nearest valid sizes.
  """
  batch_size, parts = int(batch_size), int(parts)
  if batch_size < 1 or batch_size % parts:
    lo = max(parts, batch_size // parts * parts)
    raise ConfigError(f"{name}={batch_size} does not split over the {parts} {what}: "
                      f"use a multiple of {parts} (e.g. {lo} or {lo + parts})")
  return batch_size // parts


def make_mesh(devices=None) -> Mesh:
  """1-D mesh over ``devices`` (default: all), axis "data"."""
  devices = jax.devices() if devices is None else list(devices)
  return jax.make_mesh((len(devices),), (DATA_AXIS,), axis_types=(jax.sharding.AxisType.Auto,),
                       devices=devices)


def to_global_batch(mesh: Mesh, local_batch: dict, keys: tuple[str, ...]) -> dict:
  """Host-local numpy batch -> global jax arrays sharded on "data".

  Raises ValueError naming both numbers when the local batch does not split
  evenly over this host's devices.
  """
  sharding = NamedSharding(mesh, P(DATA_AXIS))
  out = {}
  for k in keys:
    x = np.asarray(local_batch[k])
    split_batch(x.shape[0], len(mesh.local_devices), "local devices", name=f"the local batch {k!r}")
    out[k] = jax.make_array_from_process_local_data(sharding, x)
  return out


def replicate(mesh: Mesh, tree):
  """Places a pytree replicated on every device of ``mesh``."""
  return jax.device_put(tree, NamedSharding(mesh, P()))


def make_predict_fn(mesh: Mesh, forward: Callable, inputs: tuple[str, ...]) -> Callable:
  """Jits ``forward(params, *arrays) -> array`` over ``mesh``.

  Returns ``predict(params, batch) -> np.ndarray``, where ``batch`` is a dict
  holding the ``inputs`` keys (or, for one input, the array itself). Params
  are replicated; the batch is split over "data" when it divides the mesh,
  else computed whole on one device (small or odd batches).
  """
  split = jax.jit(forward, in_shardings=(NamedSharding(mesh, P()),)
                  + (NamedSharding(mesh, P(DATA_AXIS)),) * len(inputs))
  whole = jax.jit(forward)

  def predict(params, batch):
    if not isinstance(batch, dict):
      batch = {inputs[0]: batch}
    arrays = [np.asarray(batch[k]) for k in inputs]
    fn = split if arrays[0].shape[0] % mesh.size == 0 else whole
    return np.asarray(fn(params, *arrays))

  return predict


__all__ = ["DATA_AXIS", "make_mesh", "split_batch", "to_global_batch", "replicate", "make_predict_fn"]
