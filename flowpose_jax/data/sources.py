"""Random-access data sources over prepared TFDS datasets (no TensorFlow)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence

import numpy as np
from etils import epath

from flowpose_jax.data import torso
from flowpose_jax.errors import ConfigError, InputError


def resolve_data_dir(data_dir: str | None) -> str:
  """"" or None -> the TFDS default (``$TFDS_DATA_DIR`` or ~/tensorflow_datasets)."""
  if data_dir:
    return os.path.abspath(os.path.expanduser(data_dir))
  return os.path.abspath(os.path.expanduser(os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")))


# Records read per batched ``__getitems__`` call of ``id_records``.
ID_READ_CHUNK = 1024


def id_records(source: Sequence[dict], keys: Sequence[str]) -> Iterator[dict]:
  """Every record of ``source`` in order, holding (at most) ``keys``, cheaply.

  For a TFDS data source (it has ``dataset_info.features``) a second data
  source over the same files skips decoding every other feature
  (``tfds.decode.SkipDecoding``: no JPEG decode, no zlib inflate), reading
  ``ID_READ_CHUNK`` records per batched read. Any other sequence (a list, ...)
  is read record by record.

  Args:
    source: random-access records.
    keys: the feature names wanted (absent ones are simply missing).

  Yields:
    len(source) dicts.
  """
  if isinstance(source, ConcatSource):
    for part in source.parts:
      yield from id_records(part, keys)
    return
  if isinstance(source, SubsetSource):
    wanted = np.zeros(len(source.parent), bool)
    wanted[source.indices] = True
    yield from (r for r, keep in zip(id_records(source.parent, keys), wanted) if keep)
    return
  features = getattr(getattr(source, "dataset_info", None), "features", None)
  if features is None:
    for i in range(len(source)):
      record = source[i]
      yield {k: record[k] for k in keys if k in record}
    return
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  skip = {name: tfds.decode.SkipDecoding() for name in features.keys() if name not in keys}
  light = dataclasses.replace(source, decoders=skip)
  for start in range(0, len(light), ID_READ_CHUNK):
    for record in light.__getitems__(list(range(start, min(start + ID_READ_CHUNK, len(light))))):
      yield {k: record[k] for k in keys if k in record}


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

  A set built only by older code (another version folder, e.g. synthetic
  data from an older renderer) counts as missing: the error names the
  versions found and the build command, and nothing stale is read.

  Returns a random-access sequence of records (dicts of numpy arrays).
  """
  import tensorflow_datasets as tfds
  root = resolve_data_dir(data_dir)
  build = f"build it with `flowpose data build {name} --data_dir {root}`"
  try:
    builder = tfds.builder(name, data_dir=root)
    if not builder.is_prepared():
      folder = epath.Path(builder.data_dir).parent
      found = sorted(p.name for p in folder.iterdir() if (p / "dataset_info.json").exists()) if folder.exists() else []
      older = f" (found only {', '.join(found)}, written by older code: not reused)" if found else ""
      raise InputError(f"dataset {name!r} version {builder.version} is not built in {root}{older}: {build}")
    _check_shards(builder, name, split, root)
    return builder.as_data_source(split=split)
  except InputError:
    raise
  except Exception as e:  # TFDS raises several types for an unknown name / bad split.
    raise InputError(
        f"cannot open dataset {name!r} split {split!r} in {root}: {type(e).__name__}: "
        f"{str(e).splitlines()[0] if str(e) else ''} -- {build} (or check config.dataset)") from None


def _check_shards(builder, name: str, split: str, root: str) -> None:
  """Refuses a built split one of whose record files is gone (deleted, or a partial copy), naming it."""
  try:
    files = [epath.Path(f.filename) for f in builder.info.splits[split].file_instructions]
  except Exception:  # pylint: disable=broad-except  (an unknown split: as_data_source names it)
    return
  missing = [f for f in files if not f.exists()]
  if missing:
    raise InputError(f"dataset {name!r} split {split!r}: {missing[0]} is missing ({len(missing)} of "
                     f"{len(files)} files); rebuild it: delete {builder.data_dir} and run "
                     f"`flowpose data build {name} --data_dir {root}`")


class ConcatSource(Sequence):
  """Random access over several record sources, one after the other.

  ``source[i]`` is record ``i`` of the concatenation; ``parts`` are the
  sources in order (``id_records`` reads each part cheaply).
  """

  def __init__(self, parts: Sequence[Sequence[dict]]):
    self.parts = tuple(parts)
    self._ends = np.cumsum([len(p) for p in self.parts])

  def __len__(self) -> int:
    return int(self._ends[-1]) if len(self._ends) else 0

  def __getitem__(self, index: int) -> dict:
    index = int(index)
    if index < 0:
      index += len(self)
    if not 0 <= index < len(self):
      raise IndexError(f"record {index} of a source of {len(self)}")
    part = int(np.searchsorted(self._ends, index, side="right"))
    start = int(self._ends[part - 1]) if part else 0
    return self.parts[part][index - start]


def split_extra(extra: str) -> tuple[str, str]:
  """One ``config.dataset.extra_train`` entry "NAME:SPLIT" -> (NAME, SPLIT); the split may hold
  slices ("synthetic_signers/demo_noisy:train[1000:]"), so NAME ends at the first ":"."""
  name, sep, split = extra.partition(":")
  if not sep or not name or not split:
    raise InputError(f"config.dataset.extra_train={extra!r}: give NAME:SPLIT, e.g. "
                     f"synthetic_signers/demo_noisy:train[1000:]")
  return name, split


def extra_sets(dataset_cfg) -> list[tuple[str, str]]:
  """``config.dataset.extra_train`` ("NAME:SPLIT[,NAME:SPLIT...]", "" = none) -> [(NAME, SPLIT)]."""
  return [split_extra(e.strip()) for e in dataset_cfg.get("extra_train", "").split(",") if e.strip()]


def subset_set(dataset_cfg) -> int:
  """The training set ``train_subset`` draws from, as its index main first: 0 = ``train_split``
  (``dataset_cfg.subset_of`` "" or absent), p = the p-th ``extra_train`` entry, the one
  ``subset_of`` names exactly as written there ("lsp/extended:train[:9500]")."""
  target = str(dataset_cfg.get("subset_of", "")).strip()
  if not target:
    return 0
  entries = [e.strip() for e in dataset_cfg.get("extra_train", "").split(",") if e.strip()]
  if target not in entries:
    raise ConfigError(f"config.dataset.subset_of={target!r} is not an entry of config.dataset.extra_train="
                      f"{dataset_cfg.get('extra_train', '')!r}: give one of its NAME:SPLIT entries exactly as "
                      f"written there, or '' to draw train_subset from train_split")
  return 1 + entries.index(target)


def left_out_set(dataset_cfg) -> int | None:
  """The set (index main first) a run leaves out: ``subset_of``'s set when ``train_subset`` is 0
  (none of it added); None otherwise (with ``subset_of`` "", 0 means the whole ``train_split``)."""
  target = subset_set(dataset_cfg)
  return target if target and not int(dataset_cfg.get("train_subset", 0)) else None


def training_sets(dataset_cfg) -> list[tuple[str, str]]:
  """[(NAME, SPLIT)] a run of ``dataset_cfg`` trains on, main first: ``train_split``, then each
  ``extra_train`` entry, less the one ``left_out_set`` names."""
  sets = [(dataset_cfg.name, dataset_cfg.train_split)] + extra_sets(dataset_cfg)
  dropped = left_out_set(dataset_cfg)
  return [s for p, s in enumerate(sets) if p != dropped]


def train_shares(dataset_cfg, sizes: Sequence[int]) -> np.ndarray:
  """``config.dataset.train_shares`` ("" or one number per configured training set, main first) ->
  [P] float64 summing to 1 over the ``training_sets`` (sizes [P], their records): a set
  ``left_out_set`` drops takes its share with it; "" gives each set its share of the records
  (plain concatenation)."""
  text = dataset_cfg.get("train_shares", "")
  if not text:
    return np.asarray(sizes, np.float64) / max(sum(sizes), 1)
  configured = 1 + len(extra_sets(dataset_cfg))
  try:
    shares = np.asarray([float(x) for x in text.split(",")], np.float64)
  except ValueError:
    shares = np.zeros(0)
  if len(shares) != configured or not np.all(shares > 0):
    raise ConfigError(f"config.dataset.train_shares={text!r}: give {configured} positive numbers, one per "
                      f"training set (train_split first, then each extra_train entry), e.g. "
                      f"{','.join(['1'] * configured)}")
  dropped = left_out_set(dataset_cfg)
  if dropped is not None:
    shares = np.delete(shares, dropped)
  return shares / shares.sum()


def overlaps_training(dataset_cfg, name: str, split: str) -> bool:
  """Whether ``name:split`` holds records the run of ``dataset_cfg`` trained on.

  True for the training split itself (``dataset_cfg.train_split``, or
  ``extra_train``'s, less a set ``subset_of`` with ``train_subset`` 0 leaves
  out: ``training_sets``), or for one of them and a slice of it ("train" vs
  "train[:50%]"); two different slices of one split ("validation[:50%]",
  "validation[50%:]") are taken as disjoint.
  """
  trained = training_sets(dataset_cfg)
  def base(s):
    return s.partition("[")[0]

  return any(name == n and base(split) == base(s) and (split == s or "[" not in split or "[" not in s)
             for n, s in trained)


class SubsetSource(Sequence):
  """Random access over chosen records of another source: ``source[k]`` is
  ``parent[indices[k]]`` (``indices`` [M] int64, ascending, so record order is kept)."""

  def __init__(self, parent: Sequence[dict], indices: np.ndarray):
    self.parent = parent
    self.indices = np.asarray(indices, np.int64)

  def __len__(self) -> int:
    return len(self.indices)

  def __getitem__(self, index: int) -> dict:
    return self.parent[int(self.indices[index])]


def subset_indices(num_records: int, size: int, seed: int, *, of: str = "") -> np.ndarray:
  """A seeded random subset of ``size`` of ``num_records`` records.

  The first ``size`` entries of one permutation of ``range(num_records)``
  drawn from ``seed``: the same seed gives the same subset, and with one seed
  a smaller subset lies inside every larger one (nested training sets).
  ``of`` (``config.dataset.subset_of``, "" = the training split) only words the error.

  Returns:
    [size] int64 record indices, ascending.
  """
  if not 0 < size <= num_records:
    where, zero = (f"config.dataset.subset_of={of!r}", "none of it") if of else ("the training split", "all of them")
    raise ConfigError(f"config.dataset.train_subset={size}: {where} has {num_records} records; "
                      f"give 1..{num_records}, or 0 for {zero}")
  if seed < 0:
    raise ConfigError(f"config.dataset.train_subset_seed={seed} must be >= 0")
  order = np.random.default_rng(int(seed)).permutation(num_records)
  return np.sort(order[:size]).astype(np.int64)


def contains_subset(source: Sequence[dict]) -> bool:
  """Whether ``source`` (or a part of a ``ConcatSource``) is a ``SubsetSource`` or ``RepeatSource``:
  records drawn apart from their video neighbours."""
  parts = source.parts if isinstance(source, ConcatSource) else (source,)
  return any(isinstance(p, (SubsetSource, RepeatSource)) for p in parts)


class RepeatSource(Sequence):
  """``parent`` read ``length`` times over: ``source[k]`` is ``parent[k % len(parent)]``, so a
  small set can fill a fixed share of a training mixture."""

  def __init__(self, parent: Sequence[dict], length: int):
    self.parent = parent
    self.length = int(length)

  def __len__(self) -> int:
    return self.length

  def __getitem__(self, index: int) -> dict:
    return self.parent[int(index) % len(self.parent)]


def repeat_lengths(sizes: Sequence[int], shares: np.ndarray) -> np.ndarray:
  """Records per set in an epoch of a mixture: [P] int64 with ``lengths[p] / sum ~ shares[p]`` and
  ``lengths[p] >= sizes[p]`` (no record is dropped; the smaller sets repeat)."""
  sizes = np.asarray(sizes, np.float64)
  total = float(np.max(sizes / shares))
  return np.maximum(np.round(shares * total), sizes).astype(np.int64)


def load_train_source(dataset_cfg):
  """The training records of ``config.dataset``: ``train_split`` of ``name``, then each
  ``extra_train`` set ("NAME:SPLIT[,NAME:SPLIT...]", e.g. BBC Pose Extended's noisy videos).

  ``dataset_cfg.train_subset`` N > 0 keeps N records of one set drawn with
  ``train_subset_seed`` (``subset_indices``: nested across N for one seed), the
  others whole: of ``train_split`` (``subset_of`` "" or absent; N absent or 0:
  the whole split), or of the ``extra_train`` entry ``subset_of`` names (N = 0:
  none of it, ``left_out_set``).
  ``dataset_cfg.reversed_torsos`` ("keep" | "swap" | "mask") treats the LSP sets' records whose
  torso labels face away (``torso``).
  ``dataset_cfg.train_shares`` (e.g. "1,1") sets each set's share of an epoch's
  records (main first; a left-out set's share goes with it): smaller sets
  repeat (``RepeatSource``), none is cut.
  """
  sets = [(dataset_cfg.name, dataset_cfg.train_split)] + extra_sets(dataset_cfg)
  target, dropped = subset_set(dataset_cfg), left_out_set(dataset_cfg)
  size = int(dataset_cfg.get("train_subset", 0))
  policy = str(dataset_cfg.get("reversed_torsos", "keep"))
  torso.check_policy(policy, [name for p, (name, _) in enumerate(sets) if p != dropped])
  parts = []
  for p, (name, split) in enumerate(sets):
    if p == dropped:
      continue
    source = load_source(name, split, dataset_cfg.data_dir)
    if policy != "keep" and torso.is_lsp_set(name):
      source = torso.TorsoPolicySource(source, policy)
    if p == target and size:
      source = SubsetSource(source, subset_indices(len(source), size, int(dataset_cfg.get("train_subset_seed", 0)),
                                                   of=dataset_cfg.get("subset_of", "")))
    parts.append(source)
  if dataset_cfg.get("train_shares", ""):
    sizes = [len(p) for p in parts]
    lengths = repeat_lengths(sizes, train_shares(dataset_cfg, sizes))
    parts = [p if n == len(p) else RepeatSource(p, n) for p, n in zip(parts, lengths)]
  return parts[0] if len(parts) == 1 else ConcatSource(parts)
