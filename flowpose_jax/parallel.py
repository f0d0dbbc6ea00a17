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


def host_local(tree):
  """A pytree of replicated arrays -> the same values on this process's first device.

  Arrays of a multi-host mesh cannot enter a jit over this host's devices
  alone (``make_mesh(jax.local_devices())``); their local copy can. Arrays
  this process fully holds, and non-arrays, pass through. Raises ValueError
  for an array that is split across hosts (not replicated).
  """
  def one(x):
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
      return x
    if not x.sharding.is_fully_replicated:
      raise ValueError(f"an array of shape {x.shape} is split across hosts ({x.sharding}); "
                       f"only replicated arrays have a host-local copy")
    return x.addressable_data(0)
  return jax.tree.map(one, tree)


def make_predict_fn(mesh: Mesh, forward: Callable, inputs: tuple[str, ...]) -> Callable:
  """Jits ``forward(params, *arrays) -> array`` over ``mesh``.

  Returns ``predict(params, batch) -> np.ndarray``, where ``batch`` is a dict
  holding the ``inputs`` keys (or, for one input, the array itself) of host
  numpy arrays. Params are replicated; the batch is split over "data" when
  it divides the mesh, else computed whole on one device (small or odd
  batches). ``mesh`` must hold only this process's devices (host numpy
  batches cannot feed other hosts' devices): with several processes, pass
  ``make_mesh(jax.local_devices())`` and ``host_local(params)``.
  """
  if any(d.process_index != jax.process_index() for d in mesh.devices.flat):
    raise ValueError(f"make_predict_fn needs a mesh of this process's devices, got {mesh.devices.size} "
                     f"devices of {jax.process_count()} processes: pass make_mesh(jax.local_devices())")
  rows = NamedSharding(mesh, P(DATA_AXIS))
  split = jax.jit(forward, in_shardings=(NamedSharding(mesh, P()),) + (rows,) * len(inputs))
  whole = jax.jit(forward)

  def predict(params, batch):
    if not isinstance(batch, dict):
      batch = {inputs[0]: batch}
    arrays = [np.asarray(batch[k]) for k in inputs]
    if arrays[0].shape[0] % mesh.size:
      return np.asarray(whole(params, *arrays))
    # Placed first: with several processes jit refuses numpy inputs to a split sharding.
    return np.asarray(split(params, *jax.device_put(arrays, rows)))

  return predict


__all__ = ["DATA_AXIS", "make_mesh", "split_batch", "to_global_batch", "replicate", "host_local",
           "make_predict_fn"]
