"""Datasets by name: the one place the library reaches the TFDS builders (``data_builders/``).

A job that needs a dataset builds it on first use (``ensure_dataset``); the
library itself reads prepared records from ``data_dir``
(``flowpose_jax.data.sources``) and never imports a builder.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil

from flowpose_jax import provenance
from flowpose_jax.data.sources import extra_sets, resolve_data_dir
from flowpose_jax.errors import FlowposeError, InputError

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
    "lsp": "flowpose_jax.data_builders.lsp",
}


def _import_builder(name: str) -> None:
  """Imports the module that registers ``name``'s TFDS builder."""
  base = name.split("/")[0].split(":")[0]
  if base not in BUILDER_MODULES:
    raise FlowposeError(f"no builder for dataset {name!r}; known: {sorted(BUILDER_MODULES)}")
  try:
    importlib.import_module(BUILDER_MODULES[base])
  except ModuleNotFoundError as e:
    raise FlowposeError(f"the {base} builder is not available in this version ({e})") from None


def build_dataset(name: str, data_dir: str | None, manual_dir: str | None = None) -> str:
  """Builds TFDS dataset ``name`` ("dataset/config") into ``data_dir``; returns the dir.

  ``manual_dir`` holds the files a user downloaded (real datasets); when it
  is None, a builder config's ``default_manual_dir`` (realpose: the shared
  folder beside the repository) is used. TFDS writes into a temporary folder
  and renames it when complete, so an interrupted build never looks prepared.
  """
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  _import_builder(name)
  root = resolve_data_dir(data_dir)
  try:
    # array_record: readable by grain through tfds.data_source, no TensorFlow.
    builder = tfds.builder(name, data_dir=root, file_format="array_record")
  except Exception as e:  # unknown config name etc.
    raise FlowposeError(f"cannot make builder {name!r}: {str(e).splitlines()[0]}") from None
  manual_dir = _manual_dir(builder, manual_dir)
  folders = provenance.source_folders(builder.builder_config, manual_dir) if manual_dir else None
  if builder.is_prepared() and folders is not None and _stale(builder, folders):
    shutil.rmtree(builder.data_dir)
    builder = tfds.builder(name, data_dir=root, file_format="array_record")
  if not builder.is_prepared():
    log.info("building %s into %s", name, root)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    if folders is not None:
      provenance.record(os.fspath(builder.data_dir), folders, str(builder.version))
  return root


def _manual_dir(builder, given: str | None) -> str | None:
  """The folder a build reads: the one given, else the one the existing build recorded, else the
  builder config's ``default_manual_dir`` (realpose: the shared folder); None for synthetic sets."""
  if given:
    return os.path.abspath(os.path.expanduser(given))
  doc = provenance.recorded(os.fspath(builder.data_dir)) if builder.is_prepared() else None
  if doc is not None:
    return doc["folders"][0]
  default = getattr(builder.builder_config, "default_manual_dir", None)
  if default is not None:
    log.info("no --manual_dir given: reading %s", default)
    return os.path.abspath(os.fspath(default))
  return None


def _stale(builder, folders: list[str]) -> bool:
  """Whether a prepared build no longer matches the files it would now be built from (said on the log)."""
  doc = provenance.recorded(os.fspath(builder.data_dir))
  if doc is None:
    log.warning("%s was built before its sources were recorded: rebuilding from %s", builder.data_dir, folders[0])
    return True
  if doc["folders"] != folders:
    log.warning("%s was built from %s: rebuilding from %s", builder.data_dir, doc["folders"][0], folders[0])
    return True
  changed = provenance.changes(doc)
  if changed is not None:
    log.warning("the source of %s changed since its build (%s; %d files differ): rebuilding",
                builder.data_dir, *changed)
  return changed is not None


def ensure_dataset(name: str, data_dir: str | None) -> None:
  """Builds the dataset on first use: synthetic sets, and real ones whose files have a known home
  (``default_manual_dir``, e.g. realpose's shared folder). A set built from the user's own files is
  refused with the ``flowpose data build`` command that takes them: no job but that one reads them."""
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  _import_builder(name)
  try:
    builder = tfds.builder(name, data_dir=resolve_data_dir(data_dir))
  except Exception:  # pylint: disable=broad-except  (an unknown name or config: build_dataset says which)
    builder = None
  if builder is not None and builder.is_prepared():
    _refuse_if_source_changed(builder, name, data_dir)
    return
  home = getattr(getattr(builder, "builder_config", None), "default_manual_dir", None)
  if getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None) and not (home is not None and os.path.isdir(home)):
    raise InputError(f"dataset {name!r} is not built in {resolve_data_dir(data_dir)}: build it from your files "
                     f"first, `flowpose data build {name} --manual_dir YOUR_FILES --data_dir "
                     f"{resolve_data_dir(data_dir)}` (data_builders/{name.split('/')[0]}/README.md)")
  build_dataset(name, data_dir)


def _refuse_if_source_changed(builder, name: str, data_dir: str | None) -> None:
  """A job never reads records whose source files changed since the build: one line naming the file."""
  doc = provenance.recorded(os.fspath(builder.data_dir))
  changed = provenance.changes(doc) if doc is not None else None
  if changed is not None:
    raise InputError(f"dataset {name!r} in {resolve_data_dir(data_dir)} is stale: {changed[0]} since it was "
                     f"built ({changed[1]} files differ); rebuild it: `flowpose data build {name} --manual_dir "
                     f"{doc['folders'][0]} --data_dir {resolve_data_dir(data_dir)}`")


def ensure_training_data(config) -> None:
  """Builds the config's missing synthetic datasets; with several processes only process 0
  builds, and the others wait for it at a barrier (so no two write the same files)."""
  import jax  # pylint: disable=import-outside-toplevel
  names = [config.dataset.name]
  names.extend(name for name, _ in extra_sets(config.dataset))
  if jax.process_index() == 0:
    for name in names:
      ensure_dataset(name, config.dataset.data_dir)
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
    multihost_utils.sync_global_devices("flowpose: training data prepared")


__all__ = ["BUILDER_MODULES", "build_dataset", "ensure_dataset", "ensure_training_data"]
