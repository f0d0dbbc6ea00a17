"""grain input pipelines: records -> augmented, encoded, batched examples.

Record schema (TFDS ``synthetic_signers``, the BBC Pose builders, or any
random-access sequence of dicts, e.g. a plain list):
  ``image`` [H, W, 3] uint8 RGB; ``joints`` [J, 2] float32 (x, y) frame px
  (training label); ``joints_true`` [J, 2] (optional, clean joints for
  evaluation; defaults to ``joints``); ``visible`` [J] bool; ``box`` [4]
  (optional, x0 y0 x1 y1); ``video_id`` int; ``frame_index`` int (optional).
  Other keys (``flow``, ...) are dropped. Missing joints are -999 (BBC Pose),
  NaN, or ``visible`` False: they get weight 0 and an empty target map.

Example (``TrainTransform`` / ``EvalTransform``), S = ``input.size``,
h = S // ``input.stride``:
  ``image`` [S, S, 3] uint8; ``targets`` [h, h, J] float32 Gaussians;
  ``weights`` [J] float32 (1: annotated and on the map, else 0);
  ``joints`` [J, 2] float32 heatmap grid (NaN where missing);
  ``matrix`` [2, 3] float32 frame -> input affine actually used (for records
  with a stored crop, ``crop_matrix`` composed in: original frame -> input);
  ``frame_joints`` [J, 2] float32 frame px of ``joints_true`` in the example's
  joint order (swapped when flipped, so ``invert_affine(matrix)`` maps channel
  k back to ``frame_joints[k]``), NaN where missing; ``frame_visible`` [J] bool;
  ``flipped`` bool; ``video_id``, ``frame_index`` int32.

Train: source -> host shard -> shuffle -> repeat -> random_map -> batch ->
to_iter_dataset -> (mp_prefetch). The iterator is a grain ``DatasetIterator``:
``get_state()`` returns a JSON-serialisable dict, ``set_state`` resumes with
the identical next batches (orbax: ``grain.checkpoint.CheckpointSave``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import grain
import jax
import ml_collections
import numpy as np

from flowpose_jax import heatmaps
from flowpose_jax.data import augment
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


def _heatmap_size(input_cfg) -> int:
  if input_cfg.size % input_cfg.stride:
    raise ConfigError(f"config.input.size={input_cfg.size} is not a multiple of "
                      f"config.input.stride={input_cfg.stride}")
  return input_cfg.size // input_cfg.stride


def _record_image(record: dict) -> np.ndarray:
  image = np.asarray(record["image"])
  if image.ndim == 2:
    image = image[..., None]
  if image.ndim == 3 and image.shape[-1] == 1:
    image = np.repeat(image, 3, -1)
  if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
    raise InputError(f"record 'image' must be [H, W, 3] uint8, got {image.shape} {image.dtype}")
  return image


def _make_example(record: dict, image: np.ndarray, matrix: np.ndarray, flip: bool, input_cfg
                  ) -> tuple[dict[str, Any], np.ndarray]:
  """Warps and encodes one record given its frame -> input affine.

  Returns the example (without colour jitter applied) and its warped image.
  """
  size, stride, sigma = input_cfg.size, input_cfg.stride, input_cfg.sigma
  h = _heatmap_size(input_cfg)
  visible = np.asarray(record["visible"], bool)
  warped, joints_in, present = augment.warp_example(image, record["joints"], visible, matrix, flip, size)
  grid = heatmaps.input_to_heatmap(joints_in, stride)  # NaN where missing
  with np.errstate(invalid="ignore"):
    on_map = np.all((grid >= -0.5) & (grid <= h - 0.5), -1)
  weights = present & on_map
  targets = heatmaps.encode(grid[None], weights[None], size=h, sigma=sigma)[0]

  true = record.get("joints_true")
  true = record["joints"] if true is None else true
  if record.get("crop_matrix") is not None and record.get("joints_frame") is not None:
    # Stored person crops (e.g. bbc_pose/*_crops256): score in the ORIGINAL
    # frame's pixels, so the example's affine starts at the frame.
    true = record["joints_frame"]
    matrix = augment.compose_affine(matrix, np.asarray(record["crop_matrix"], np.float32))
  frame_joints, frame_visible = augment.clean_joints(true, visible)
  if flip:
    order = list(augment.FLIP_INDEX)
    frame_joints, frame_visible = frame_joints[order], frame_visible[order]
  example = {
      "image": warped,
      "targets": targets,
      "weights": weights.astype(np.float32),
      "joints": grid.astype(np.float32),
      "matrix": np.asarray(matrix, np.float32),
      "frame_joints": frame_joints,
      "frame_visible": frame_visible,
      "flipped": np.bool_(flip),
      "video_id": np.int32(record.get("video_id", -1)),
      "frame_index": np.int32(record.get("frame_index", -1)),
  }
  return example, warped


class TrainTransform(grain.transforms.RandomMap):
  """Record -> augmented training example (see the module docstring).

  The randomness comes only from grain's per-element generator: one affine
  (``augment.sample_affine``) composed with the letterbox, then colour jitter.
  With ``config.augment.enabled`` False it equals ``EvalTransform``.
  """

  def __init__(self, config: ml_collections.ConfigDict):
    self.input_cfg = ml_collections.FrozenConfigDict(config.input)
    self.aug_cfg = ml_collections.FrozenConfigDict(config.augment)
    _heatmap_size(self.input_cfg)

  def random_map(self, element: dict, rng: np.random.Generator) -> dict[str, Any]:
    image = _record_image(element)
    base = augment.frame_to_input_matrix(image.shape[:2], element.get("box"), self.input_cfg)
    aug, flip = augment.sample_affine(rng, self.aug_cfg, self.input_cfg.size)
    matrix = augment.compose_affine(aug, base)
    example, warped = _make_example(element, image, matrix, flip, self.input_cfg)
    if self.aug_cfg.enabled:
      example["image"] = augment.colour_jitter(warped, rng, self.aug_cfg)
    return example


class EvalTransform(grain.transforms.Map):
  """Record -> deterministic example (letterbox only), same keys as ``TrainTransform``."""

  def __init__(self, config: ml_collections.ConfigDict):
    self.input_cfg = ml_collections.FrozenConfigDict(config.input)
    _heatmap_size(self.input_cfg)

  def map(self, element: dict) -> dict[str, Any]:
    image = _record_image(element)
    matrix = augment.frame_to_input_matrix(image.shape[:2], element.get("box"), self.input_cfg)
    example, _ = _make_example(element, image, matrix, False, self.input_cfg)
    return example


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


def _enable_grain_workers() -> None:
  """grain's worker processes read absl flags; outside ``absl.app.run`` mark them parsed."""
  from absl import flags  # pylint: disable=import-outside-toplevel
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()


def make_train_iterator(source: Sequence[dict], config: ml_collections.ConfigDict, *,
                        shard_index: int | None = None, shard_count: int | None = None
                        ) -> grain.DatasetIterator:
  """Infinite iterator of this host's training batches.

  Args:
    source: random-access records (``tfds.data_source`` split, list, ...).
    config: uses ``seed``, ``batch_size`` (global), ``input.*``, ``augment.*``.
    shard_index, shard_count: this host's shard (default
      ``jax.process_index()`` of ``jax.process_count()``); records
      ``shard_index::shard_count`` are this host's.

  Returns:
    A grain ``DatasetIterator`` of dicts with a leading batch axis of
    ``batch_size // shard_count`` (keys: see the module docstring). Same seed ->
    same batches, with or without ``input.workers``. ``get_state()`` is a
    JSON-serialisable dict; ``set_state(state)`` continues from there.
  """
  index, count = _shard(shard_index, shard_count)
  local_batch = split_batch(config.batch_size, count, "hosts (shard_count)")
  ds = grain.MapDataset.source(source)[index::count]
  if len(ds) == 0:
    raise InputError(f"shard {index} of {count} of a source with {len(source)} records is empty: "
                     f"use a larger split or fewer hosts")
  shuffle_seed = derive_seed(config.seed, SHUFFLE_STREAM, config.input.get("shuffle_buffer_seed", 0))
  augment_seed = derive_seed(config.seed, AUGMENT_STREAM, index)
  ds = (ds.shuffle(seed=shuffle_seed)
        .repeat()
        .random_map(TrainTransform(config), seed=augment_seed)
        .batch(local_batch, drop_remainder=True))
  it_ds = ds.to_iter_dataset(_read_options(config))
  workers = int(config.input.workers)
  if workers > 0:
    _enable_grain_workers()
    it_ds = it_ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
  return iter(it_ds)


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
                      shard_index: int | None = None, shard_count: int | None = None
                      ) -> Iterator[dict[str, np.ndarray]]:
  """Deterministic batches over a split, in order, every record exactly once.

  Args:
    source: random-access records.
    config: uses ``input.*`` (and ``eval.batch_size`` when ``batch_size`` is None).
    batch_size: examples per batch (default ``config.eval.batch_size``).
    max_examples: only the first N records (0 = all).
    shard_index, shard_count: take records ``shard_index::shard_count`` of the
      (truncated) split; default: no sharding (every host sees all).

  Yields:
    ``EvalTransform`` examples stacked to [batch_size, ...]; the last batch is
    padded with copies of its last example and ``"_mask"`` [batch_size] bool marks real examples.
  """
  bs = int(config.eval.batch_size if batch_size is None else batch_size)
  if bs < 1:
    raise ConfigError(f"eval batch size must be >= 1, got {bs}")
  n = len(source) if not max_examples else min(int(max_examples), len(source))
  ds = grain.MapDataset.source(source)[:n]
  if shard_index is not None or shard_count is not None:
    index, count = _shard(shard_index, shard_count)
    ds = ds[index::count]
  ds = ds.map(EvalTransform(config)).batch(bs, drop_remainder=False)
  return _padded(ds.to_iter_dataset(_read_options(config)), bs)


def _padded(batches, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
  for batch in batches:
    yield _pad_batch(batch, batch_size)


__all__ = ["TrainTransform", "EvalTransform", "make_train_iterator", "make_eval_batches",
           "derive_seed", "split_batch", "MASK_KEY"]
