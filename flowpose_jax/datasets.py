"""Datasets by name: the one place the library reaches the TFDS builders (``data_builders/``).

A job that needs a dataset builds it on first use (``ensure_dataset``); the
library itself reads prepared records from ``data_dir``
(``flowpose_jax.data.sources``) and never imports a builder.
"""

from __future__ import annotations

import importlib
import logging
import os

from flowpose_jax.data.sources import is_prepared, resolve_data_dir, split_extra
from flowpose_jax.errors import FlowposeError

log = logging.getLogger("flowpose")

# TFDS dataset name -> module that registers its builder.
BUILDER_MODULES = {
    "synthetic_signers": "flowpose_jax.data_builders.synthetic_signers",
    "bbc_pose": "flowpose_jax.data_builders.bbc_pose",
    "flic": "flowpose_jax.data_builders.flic",
    "poses_in_the_wild": "flowpose_jax.data_builders.poses_in_the_wild",
    "chalearn": "flowpose_jax.data_builders.chalearn",
    "realpose": "flowpose_jax.data_builders.realpose",
    "coco_keypoints": "flowpose_jax.data_builders.coco_keypoints",
}


def build_dataset(name: str, data_dir: str | None, manual_dir: str | None = None) -> str:
  """Builds TFDS dataset ``name`` ("dataset/config") into ``data_dir``; returns the dir.

  ``manual_dir`` holds the files a user downloaded (real datasets); when it
  is None, a builder config's ``default_manual_dir`` (realpose: the shared
  folder beside the repository) is used. TFDS writes into a temporary folder
  and renames it when complete, so an interrupted build never looks prepared.
  """
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  base = name.split("/")[0].split(":")[0]
  if base not in BUILDER_MODULES:
    raise FlowposeError(f"no builder for dataset {name!r}; known: {sorted(BUILDER_MODULES)}")
  try:
    importlib.import_module(BUILDER_MODULES[base])
  except ModuleNotFoundError as e:
    raise FlowposeError(f"the {base} builder is not available in this version ({e})") from None
  root = resolve_data_dir(data_dir)
  try:
    # array_record: readable by grain through tfds.data_source, no TensorFlow.
    builder = tfds.builder(name, data_dir=root, file_format="array_record")
  except Exception as e:  # unknown config name etc.
    raise FlowposeError(f"cannot make builder {name!r}: {str(e).splitlines()[0]}") from None
  if not builder.is_prepared():
    log.info("building %s into %s", name, root)
    if manual_dir is None and getattr(builder.builder_config, "default_manual_dir", None) is not None:
      manual_dir = os.fspath(builder.builder_config.default_manual_dir)
      log.info("no --manual_dir given: reading %s", manual_dir)
    download_config = tfds.download.DownloadConfig(
        manual_dir=os.path.abspath(os.path.expanduser(manual_dir)) if manual_dir else None)
    builder.download_and_prepare(download_config=download_config)
  return root


def ensure_dataset(name: str, data_dir: str | None) -> None:
  """Builds the dataset on first use (synthetic sets; real ones need manual files)."""
  if not is_prepared(name, data_dir):
    build_dataset(name, data_dir)


def ensure_training_data(config) -> None:
  """Builds the config's missing synthetic datasets; with several processes only process 0
  builds, and the others wait for it at a barrier (so no two write the same files)."""
  import jax  # pylint: disable=import-outside-toplevel
  names = [config.dataset.name]
  if config.dataset.extra_train:
    names.append(split_extra(config.dataset.extra_train)[0])
  if jax.process_index() == 0:
    for name in names:
      ensure_dataset(name, config.dataset.data_dir)
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
    multihost_utils.sync_global_devices("flowpose: training data prepared")


__all__ = ["BUILDER_MODULES", "build_dataset", "ensure_dataset", "ensure_training_data"]
