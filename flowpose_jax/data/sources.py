"""Random-access data sources over prepared TFDS datasets (no TensorFlow)."""

from __future__ import annotations

import os

from flowpose_jax.errors import InputError


def resolve_data_dir(data_dir: str | None) -> str:
  """"" or None -> the TFDS default (``$TFDS_DATA_DIR`` or ~/tensorflow_datasets)."""
  if data_dir:
    return os.path.abspath(os.path.expanduser(data_dir))
  return os.path.abspath(os.path.expanduser(os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")))


def is_prepared(name: str, data_dir: str | None) -> bool:
  """Whether ``name`` ("dataset/config") has been fully built in ``data_dir``."""
  import tensorflow_datasets as tfds
  try:
    builder = tfds.builder(name, data_dir=resolve_data_dir(data_dir))
  except Exception:  # pylint: disable=broad-except
    return False
  return builder.is_prepared()


def load_source(name: str, split: str, data_dir: str | None):
  """``tfds.data_source`` for a split, with an actionable error if it is missing.

  Returns a random-access sequence of records (dicts of numpy arrays).
  """
  import tensorflow_datasets as tfds
  root = resolve_data_dir(data_dir)
  try:
    return tfds.data_source(name, split=split, data_dir=root, download=False)
  except Exception as e:  # TFDS raises several types for "not built" / bad split.
    raise InputError(
        f"cannot open dataset {name!r} split {split!r} in {root}: {type(e).__name__}: "
        f"{str(e).splitlines()[0] if str(e) else ''} -- build it with "
        f"`flowpose data build {name} --data_dir {root}` (or check config.dataset)") from None
