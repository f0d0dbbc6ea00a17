"""The one grain input pipeline: element indices -> examples -> batches.

Whatever the model, the iterator runs over the *elements* of an element
transform and is built once, here:

  Train: elements -> shuffle -> repeat -> random_map(example) -> host shard ->
  batch -> to_iter_dataset -> (mp_prefetch)
  Eval: elements[:max_examples] -> (shard) -> map(example) -> batch -> pad

The element transform (``examples_for``) is the only thing that differs, and
the config chooses it: a config without a ``flow`` section is single-frame
(``frames.FrameExamples``: the elements are every record index, the examples
single frames), one with ``config.flow`` (``configs/flow.py``, the flowing
model) is temporal (``windows.WindowExamples``: the elements are the annotated
centre records, the examples windows of 2n+1 frames with flows). Both read
``source[i]`` inside the transform; their example keys are documented in
``frames`` and ``windows``.

The train iterator is a grain ``DatasetIterator``: ``get_state()`` returns a
JSON-serialisable dict, ``set_state`` resumes with the identical next batches
(orbax: ``grain.checkpoint.CheckpointSave``). Same seed -> same batches, with
or without ``input.workers``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import grain
import jax
import ml_collections
import numpy as np

from flowpose_jax.data import frames, windows
from flowpose_jax.errors import ConfigError, InputError
from flowpose_jax.parallel import split_batch

MASK_KEY = "_mask"
# Sub-streams of config.seed (np.random.SeedSequence entropy words).
SHUFFLE_STREAM = 0
AUGMENT_STREAM = 1
DEFAULT_READ_THREADS = 4
DEFAULT_PREFETCH_BATCHES = 8


def derive_seed(seed: int, *words: int) -> int:
  """A 32-bit seed for one named stream (and shard) of ``config.seed``."""
  if seed < 0:
    raise ConfigError(f"config.seed must be >= 0, got {seed}")
  return int(np.random.SeedSequence([int(seed), *(int(w) for w in words)]).generate_state(1)[0])


def examples_for(source: Sequence[dict], config: ml_collections.ConfigDict, maps: np.ndarray | None = None
                 ) -> frames.FrameExamples | windows.WindowExamples:
  """The element transform the config asks for (module docstring).

  ``maps``: precomputed per-frame maps of ``source`` for windows
  (``windows.frame_maps``; with ``config.flow.maps = "precomputed"``).

  Returns:
    ``windows.WindowExamples(config, source, maps)`` when ``config.flow`` is
    present, else ``frames.FrameExamples(config, source)``. Either has
    ``elements`` [M] int64 and ``example(i, rng=None) -> dict``.
  """
  if config.get("flow") is None:
    if maps is not None:
      raise ConfigError("precomputed maps are for the flowing stage's windows, but the config has no flow section")
    return frames.FrameExamples(config, source)
  return windows.WindowExamples(config, source, maps)


class _TrainExample(grain.transforms.RandomMap):
  """Element -> augmented example, randomness from grain's per-element generator."""

  def __init__(self, examples):
    self.examples = examples

  def random_map(self, element: int, rng: np.random.Generator) -> dict[str, Any]:
    return self.examples.example(element, rng)


class _EvalExample(grain.transforms.Map):
  """Element -> deterministic example."""

  def __init__(self, examples):
    self.examples = examples

  def map(self, element: int) -> dict[str, Any]:
    return self.examples.example(element)


def _read_options(config) -> grain.ReadOptions:
  return grain.ReadOptions(
      num_threads=int(config.input.get("read_threads", DEFAULT_READ_THREADS)),
      prefetch_buffer_size=int(config.input.get("prefetch_batches", DEFAULT_PREFETCH_BATCHES)))


def _shard(shard_index: int | None, shard_count: int | None) -> tuple[int, int]:
  index = jax.process_index() if shard_index is None else int(shard_index)
  count = jax.process_count() if shard_count is None else int(shard_count)
  if count < 1 or not 0 <= index < count:
    raise ValueError(f"shard_index={index} must be in [0, shard_count={count})")
  return index, count


def _check_grain_workers_can_start() -> None:
  """grain's worker processes read absl flags, which the entry point must have parsed."""
  from absl import flags  # pylint: disable=import-outside-toplevel
  if not flags.FLAGS.is_parsed():
    raise ConfigError("config.input.workers > 0 starts grain worker processes, which read absl flags: "
                      "run through `flowpose train`, or parse them first (absl.flags.FLAGS(sys.argv[:1])), "
                      "or set config.input.workers=0")


def make_train_iterator(source: Sequence[dict], config: ml_collections.ConfigDict, *,
                        shard_index: int | None = None, shard_count: int | None = None,
                        maps: np.ndarray | None = None) -> grain.DatasetIterator:
  """Infinite iterator of this host's training batches (single frames or windows).

  Args:
    source: random-access records (``tfds.data_source`` split, list, ...).
    config: uses ``seed``, ``batch_size`` (global), ``input.*``, ``augment.*``
      and, for windows, ``flow.*`` (``examples_for``).
    shard_index, shard_count: this host's shard (default
      ``jax.process_index()`` of ``jax.process_count()``): positions
      ``shard_index::shard_count`` of the one shuffled, augmented global
      stream are this host's, so global batch k (the hosts' k-th local batches
      together) holds the same augmented examples whatever the host count.
    maps: precomputed per-frame maps of ``source`` (``examples_for``).

  Returns:
    A ``BatchPositionIterator`` (a grain ``DatasetIterator``) of dicts with a leading batch axis of
    ``batch_size // shard_count`` (keys: ``frames`` / ``windows``). Same seed ->
    same batches, with or without ``input.workers``. ``get_state()`` is a
    JSON-serialisable dict; ``set_state(state)`` continues from there.
  """
  index, count = _shard(shard_index, shard_count)
  local_batch = split_batch(config.batch_size, count, "hosts (shard_count)")
  examples = examples_for(source, config, maps)
  if len(examples.elements) < count:
    raise InputError(f"{len(examples.elements)} training elements ({len(source)} records) cannot feed "
                     f"{count} hosts: use a larger split or fewer hosts")
  shuffle_seed = derive_seed(config.seed, SHUFFLE_STREAM, config.input.get("shuffle_buffer_seed", 0))
  augment_seed = derive_seed(config.seed, AUGMENT_STREAM, 0)
  # One global stream (shuffled, repeated, augmented per global position), then
  # this host's rows of it: host i of n reads positions i, i + n, ..., so global
  # batch k is stream positions [k B, (k + 1) B) whatever n is (grain's lazy
  # MapDataset computes only this host's elements).
  ds = (grain.MapDataset.source(examples.elements.tolist())
        .shuffle(seed=shuffle_seed)
        .repeat()
        .random_map(_TrainExample(examples), seed=augment_seed)[index::count]
        .batch(local_batch, drop_remainder=True))
  workers = int(config.input.workers)
  if workers > 0:
    _check_grain_workers_can_start()
  return BatchPositionIterator(ds, _read_options(config), workers)


class BatchPositionIterator(grain.DatasetIterator):
  """The batches of an indexable dataset, resumable from how many were read.

  Its state is {"batches_read": k} and nothing about the loader, so a run
  resumes on a machine with other ``input.workers``, ``read_threads`` or
  ``prefetch_batches`` (a rescheduled pod job): the batched ``MapDataset`` is
  deterministic, so batch k is the same whoever computes it. States saved by
  grain's own iterator before this existed ({"next_index": k}, in-process
  loading) are read too.
  """

  def __init__(self, batches: grain.MapDataset, read_options: grain.ReadOptions, workers: int):
    super().__init__()
    self._batches, self._read_options, self._workers = batches, read_options, workers
    self._read = 0
    self._it = self._start(0)

  def _start(self, position: int):
    it_ds = self._batches[position:].to_iter_dataset(self._read_options)
    if self._workers > 0:
      it_ds = it_ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=self._workers))
    return iter(it_ds)

  def __next__(self):
    batch = next(self._it)
    self._read += 1
    return batch

  def get_state(self) -> dict:
    return {"batches_read": self._read}

  def set_state(self, state: dict) -> None:
    position = state.get("batches_read", state.get("next_index"))
    if position is None:
      raise InputError(f"data iterator state {sorted(state)} is not a position this version reads "
                       f"(saved with input.workers > 0 by an older flowpose_jax): resume with the "
                       f"version that wrote it, or start a new --workdir")
    self._it = self._start(int(position))
    self._read = int(position)

  def close(self) -> None:
    close = getattr(self._it, "close", None)
    if close is not None:
      close()


def _pad_batch(batch: dict[str, np.ndarray], batch_size: int) -> dict[str, np.ndarray]:
  n = len(batch[next(iter(batch))])
  if n == batch_size:
    return dict(batch, **{MASK_KEY: np.ones(batch_size, bool)})
  out = {}
  for k, v in batch.items():
    v = np.asarray(v)
    # Copies of the last real example: every field stays valid (e.g. an
    # invertible affine), and "_mask" says which rows count.
    out[k] = np.concatenate([v, np.repeat(v[-1:], batch_size - n, 0)], 0)
  out[MASK_KEY] = np.arange(batch_size) < n
  return out


def make_eval_batches(source: Sequence[dict], config: ml_collections.ConfigDict, *,
                      batch_size: int | None = None, max_examples: int = 0,
                      shard_index: int | None = None, shard_count: int | None = None,
                      maps: np.ndarray | None = None) -> Iterator[dict[str, np.ndarray]]:
  """Deterministic batches over a split, in order, every element exactly once.

  Args:
    source: random-access records.
    config: uses ``input.*`` (and ``eval.batch_size`` when ``batch_size`` is
      None; ``flow.*`` for windows).
    batch_size: examples per batch (default ``config.eval.batch_size``).
    max_examples: only the first N elements (records, or annotated centres
      for windows; 0 = all).
    shard_index, shard_count: take elements ``shard_index::shard_count`` of the
      (truncated) list; default: no sharding (every host sees all).
    maps: precomputed per-frame maps of ``source`` (``examples_for``).

  Yields:
    Evaluation examples (no augmentation) stacked to [batch_size, ...]; the
    last batch is padded with copies of its last example and ``"_mask"``
    [batch_size] bool marks real examples.
  """
  bs = int(config.eval.batch_size if batch_size is None else batch_size)
  if bs < 1:
    raise ConfigError(f"eval batch size must be >= 1, got {bs}")
  examples = examples_for(source, config, maps)
  elements = examples.elements[:int(max_examples)] if max_examples else examples.elements
  ds = grain.MapDataset.source(elements.tolist())
  if shard_index is not None or shard_count is not None:
    index, count = _shard(shard_index, shard_count)
    ds = ds[index::count]
  ds = ds.map(_EvalExample(examples)).batch(bs, drop_remainder=False)
  return _padded(ds.to_iter_dataset(_read_options(config)), bs)


def _padded(batches, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
  for batch in batches:
    yield _pad_batch(batch, batch_size)


__all__ = ["MASK_KEY", "BatchPositionIterator", "derive_seed", "examples_for", "make_eval_batches", "make_train_iterator"]
