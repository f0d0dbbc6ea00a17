"""Temporal windows for the Flowing ConvNet: 2n+1 frames, one augmentation, flows.

An element is a *centre* record index i. Its window is the records
``window_indices(i, n, starts, ends)``: i-n .. i+n clipped to the run of
consecutive frames of i's video (``video_layout``), so edge frames repeat and a
window never crosses into another video (or over a gap in ``frame_index``).

Example (``WindowTrainTransform`` / ``WindowEvalTransform``), T = 2n+1,
S = ``input.size``, h = S // ``input.stride``:
  ``images`` [T, S, S, 3] uint8, the window warped with the centre's affine;
  ``flows`` [T, h, h, 2] float32 (dx, dy) heatmap px, centre -> frame t:
    heatmap pixel u of the centre frame shows the point at u + flows[t, u] of
    frame t, so ``warp.warp(heatmaps_t, flows[t])`` brings frame t's heatmaps
    onto the centre (``flowpose_jax.flow.compute`` convention). 0 where
    unknown (and then ``confidence`` 0);
  ``confidence`` [T, h, h, 1] float32: 1 where the flow is known (finite), the
    centre point A⁻¹(u) lies inside the frame and its target x + f(x) too;
  and, for the centre frame, exactly the keys of ``pipeline`` (``image`` =
  ``images[n]``, ``targets``, ``weights``, ``joints``, ``matrix``,
  ``frame_joints``, ``frame_visible``, ``flipped``, ``video_id``,
  ``frame_index``).

Flow source (``config.flow``, defaults ``FLOW_DEFAULTS`` when the section is
absent): ``source`` "gt" composes the records' exact forward flows ``flow``
(t -> t+1); backward steps t -> t-1 invert f_{t-1 -> t} by fixed-point
iteration (``invert_flow``). ``source`` one of ``compute.METHODS`` computes
flow on the host with ``compute.window_flows`` (``mode`` "direct" | "composed"),
cached per (video_id, centre frame_index, n) under ``cache_dir`` when set.

Geometry: for the frame -> input affine A (linear part L) the input-space flow
is L·f(A⁻¹p); on the heatmap grid it is sampled at the frame point of each
heatmap pixel centre and divided by the stride. This equals
``cv2.warpAffine`` to S×S followed by ``compute.resample_flow`` without the
double interpolation. A flip makes det L < 0, so x components change sign by
themselves; left/right channel swaps apply only to joints and targets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import grain
import ml_collections
import numpy as np

from flowpose_jax import heatmaps
from flowpose_jax.data import augment, pipeline
from flowpose_jax.errors import ConfigError, InputError
from flowpose_jax.flow import compute

GT_SOURCE = "gt"
SOURCES: tuple[str, ...] = (GT_SOURCE, *compute.METHODS)
FLOW_DEFAULTS = dict(source=GT_SOURCE, n=2, mode="direct", cache_dir="")
# Fixed-point iterations inverting a forward flow (see ``invert_flow``).
INVERT_ITERATIONS = 5
ANNOTATED_KEY = "annotated"


def _flow_cfg(config: ml_collections.ConfigDict) -> ml_collections.FrozenConfigDict:
  """``config.flow`` with ``FLOW_DEFAULTS`` for missing fields (or a missing section)."""
  section = config.get("flow", None) or {}
  cfg = {k: section.get(k, v) for k, v in FLOW_DEFAULTS.items()}
  if cfg["source"] not in SOURCES:
    raise ConfigError(f"config.flow.source={cfg['source']!r} is not one of {list(SOURCES)}")
  if cfg["mode"] not in compute.MODES:
    raise ConfigError(f"config.flow.mode={cfg['mode']!r} is not one of {list(compute.MODES)}")
  if int(cfg["n"]) < 0:
    raise ConfigError(f"config.flow.n={cfg['n']} must be >= 0 (window of 2n+1 frames)")
  cfg["n"] = int(cfg["n"])
  return ml_collections.FrozenConfigDict(cfg)


# ----------------------------------------------------------------- layout


def _scan(source: Sequence[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Reads ``video_id``, ``frame_index`` and ``annotated`` of every record once.

  Cost: one full ``source[i]`` per record (for a TFDS data source that decodes
  each image: O(N) reads, ~1 ms per 256² JPEG), done once per iterator.

  Returns:
    video_ids [N] int64, frame_indices [N] int64 (-1 when absent),
    annotated [N] bool (True when absent).
  """
  n = len(source)
  vids = np.empty(n, np.int64)
  frames = np.empty(n, np.int64)
  annotated = np.ones(n, bool)
  for i in range(n):
    r = source[i]
    vids[i] = int(r.get("video_id", -1))
    frames[i] = int(r.get("frame_index", -1))
    annotated[i] = bool(r.get(ANNOTATED_KEY, True))
  return vids, frames, annotated


def _runs(video_ids: np.ndarray, frame_indices: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
  vids = np.asarray(video_ids, np.int64)
  n = len(vids)
  if n == 0:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)
  brk = vids[1:] != vids[:-1]
  if frame_indices is not None:
    fr = np.asarray(frame_indices, np.int64)
    known = (fr[1:] >= 0) & (fr[:-1] >= 0)
    brk |= known & (fr[1:] != fr[:-1] + 1)
  first = np.concatenate([[0], np.flatnonzero(brk) + 1])  # run starts
  last = np.concatenate([first[1:], [n]])
  run = np.cumsum(np.concatenate([[False], brk]))  # run id of each record
  return first[run], last[run]


def video_layout(source: Sequence[dict] | None = None, *, video_ids: np.ndarray | None = None,
                 frame_indices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
  """The run of consecutive frames of each record's video.

  Records are in (video, frame) order. A run ends where ``video_id`` changes
  or, when frame indices are known, where ``frame_index`` does not increase by
  exactly 1 (a gap, e.g. BBC Pose's sparse annotated frames).

  Args:
    source: random-access records; read once each (see ``_scan``: O(N) record
      reads, images included) unless ``video_ids`` is given.
    video_ids: [N] int, skips reading ``source``.
    frame_indices: [N] int (optional, with ``video_ids``) to split at gaps.

  Returns:
    starts [N] int64, ends [N] int64: record i's run is ``[starts[i], ends[i])``.
  """
  if video_ids is None:
    if source is None:
      raise ValueError("video_layout needs source or video_ids")
    video_ids, frame_indices, _ = _scan(source)
  return _runs(video_ids, frame_indices)


def window_indices(i: int, n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
  """[2n+1] int64 record indices i-n .. i+n clipped to i's run (edge frames repeat)."""
  return np.clip(np.arange(i - n, i + n + 1), starts[i], ends[i] - 1).astype(np.int64)


# ---------------------------------------------------------------- flow


def invert_flow(forward: np.ndarray, iterations: int = INVERT_ITERATIONS) -> np.ndarray:
  """Backward flow b -> a from the forward flow a -> b, by fixed-point iteration.

  Solves ``g(x) = -f(x + g(x))`` starting from ``g = -f``: exact where f is
  smooth around the correspondence; wrong at disocclusions (pixels of b not
  visible in a have no preimage) and smeared over one pixel at motion
  boundaries by the bilinear sampling. On synthetic signers (2 videos x 11
  steps, 148 joints visible in both frames) the inverted flow at joint t lands
  on joint t-1 with median error < 0.001 px, 90th percentile 0.01 px, max
  4.9 px (a joint on a part edge); the plain ``-f`` start alone has 90th
  percentile 0.64 px. Checked in ``tests/data/test_windows.py``.

  Args:
    forward: [H, W, 2] float flow a -> b (may hold NaN).
    iterations: fixed-point steps.

  Returns:
    [H, W, 2] float32 flow b -> a; NaN where x + g(x) leaves the frame.
  """
  f = np.asarray(forward, np.float32)
  h, w = f.shape[:2]
  ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
  g = -f
  for _ in range(iterations):
    g = -compute.sample_bilinear(f, xs + g[..., 0], ys + g[..., 1])
  return g.astype(np.float32)


def _gt_window_flows(records: list[dict], idx: np.ndarray, n: int) -> np.ndarray:
  """[T, H, W, 2] float32 exact-ish flow centre -> each window frame from records' ``flow``."""
  fwd = {}
  for j, r in zip(idx, records):
    if "flow" not in r:
      raise InputError("config.flow.source='gt' but the records have no 'flow': use a dataset with "
                       f"ground-truth flow or set config.flow.source to one of {list(compute.METHODS)}")
    fwd[int(j)] = np.asarray(r["flow"], np.float32)
  centre = int(idx[n])
  out = np.zeros((len(idx), *fwd[centre].shape), np.float32)
  for sign in (1, -1):
    chain, prev = None, centre
    for k in range(1, n + 1):
      j = int(idx[n + sign * k])
      if j != prev:  # a new frame: one more step (j = prev ± 1 inside a run)
        step = fwd[prev] if sign > 0 else invert_flow(fwd[j])
        chain = step if chain is None else compute.compose_flows(chain, step)
        prev = j
      if chain is not None:
        out[n + sign * k] = chain
  return out


def _computed_window_flows(records: list[dict], frames: np.ndarray, n: int, flow_cfg) -> np.ndarray:
  def run():
    return compute.window_flows(frames, n, n, method=flow_cfg.source, mode=flow_cfg.mode)

  if not flow_cfg.cache_dir:
    return run()
  centre = records[n]
  key = compute.flow_config_key(flow_cfg.source, flow_cfg.mode, frames.shape[1], frames.shape[2],
                                window=True)
  cache = compute.FlowCache(flow_cfg.cache_dir, key)
  return cache.get_or_compute(str(int(centre.get("video_id", -1))),
                              compute.window_key(int(centre.get("frame_index", -1)), n), run)


def flows_to_heatmap(flows: np.ndarray, matrix: np.ndarray, size: int, stride: int
                     ) -> tuple[np.ndarray, np.ndarray]:
  """Frame-resolution window flows -> augmented heatmap-grid flows and confidence.

  Args:
    flows: [T, H, W, 2] float (dx, dy) frame px, centre -> frame t (NaN unknown).
    matrix: [2, 3] frame -> input affine A (the window's, flip included).
    size: S, the input side; stride: input px per heatmap px (h = S // stride).

  Returns:
    flows [T, h, h, 2] float32 heatmap px (0 where unknown) and confidence
    [T, h, h, 1] float32 (1 where known, the heatmap pixel's frame point lies
    inside the frame and its flow target too, else 0).
  """
  flows = np.asarray(flows, np.float32)
  _, fh, fw = flows.shape[:3]
  h = size // stride
  ys, xs = np.mgrid[0:fh, 0:fw].astype(np.float32)
  tx, ty = xs + flows[..., 0], ys + flows[..., 1]
  with np.errstate(invalid="ignore"):
    inside = (tx >= 0) & (tx <= fw - 1) & (ty >= 0) & (ty <= fh - 1)
  flows = np.where(inside[..., None], flows, np.nan)  # NaN also stays NaN
  m = np.asarray(matrix, np.float64)
  lin = m[:, :2]
  inv = np.linalg.inv(lin)
  uv = np.stack(np.mgrid[0:h, 0:h][::-1], -1).reshape(-1, 2).astype(np.float64)  # (u, v)
  p_in = heatmaps.heatmap_to_input(uv, stride).astype(np.float64)
  p_frame = (p_in - m[:, 2]) @ inv.T  # [h*h, 2]
  out = np.empty((len(flows), h, h, 2), np.float32)
  for t, f in enumerate(flows):
    s = compute.sample_bilinear(f, p_frame[:, 0], p_frame[:, 1], outside="nan")  # [h*h, 2]
    out[t] = ((s.astype(np.float64) @ lin.T) / stride).reshape(h, h, 2)
  conf = np.all(np.isfinite(out), -1, keepdims=True)
  return np.where(conf, out, 0.0).astype(np.float32), conf.astype(np.float32)


# ---------------------------------------------------------------- transforms


class _WindowBase:
  """Shared state of the window transforms: config, source and layout."""

  def __init__(self, config: ml_collections.ConfigDict, source: Sequence[dict],
               layout: tuple[np.ndarray, np.ndarray] | None = None):
    self.input_cfg = ml_collections.FrozenConfigDict(config.input)
    self.aug_cfg = ml_collections.FrozenConfigDict(config.augment)
    self.flow_cfg = _flow_cfg(config)
    pipeline._heatmap_size(self.input_cfg)  # pylint: disable=protected-access
    self.source = source
    self.starts, self.ends = video_layout(source) if layout is None else layout

  def _read(self, i: int) -> tuple[np.ndarray, list[dict], np.ndarray]:
    idx = window_indices(int(i), self.flow_cfg.n, self.starts, self.ends)
    cache = {int(j): self.source[int(j)] for j in np.unique(idx)}
    records = [cache[int(j)] for j in idx]
    frames = np.stack([pipeline._record_image(r) for r in records])  # pylint: disable=protected-access
    return idx, records, frames

  def _flows(self, idx, records, frames) -> np.ndarray:
    n = self.flow_cfg.n
    if self.flow_cfg.source == GT_SOURCE:
      return _gt_window_flows(records, idx, n)
    return _computed_window_flows(records, frames, n, self.flow_cfg)

  def _example(self, i: int, rng: np.random.Generator | None) -> dict[str, Any]:
    n, size = self.flow_cfg.n, self.input_cfg.size
    idx, records, frames = self._read(i)
    centre = records[n]
    base = augment.frame_to_input_matrix(frames.shape[1:3], centre.get("box"), self.input_cfg)
    if rng is None:
      matrix, flip = base, False
    else:
      aug, flip = augment.sample_affine(rng, self.aug_cfg, size)
      matrix = augment.compose_affine(aug, base)
    example, _ = pipeline._make_example(centre, frames[n], matrix, flip, self.input_cfg)  # pylint: disable=protected-access
    images = np.empty((len(idx), size, size, 3), np.uint8)
    for t, r in enumerate(records):
      images[t] = (example["image"] if t == n else
                   augment.warp_example(frames[t], r["joints"], r["visible"], matrix, flip, size)[0])
    if rng is not None and self.aug_cfg.enabled:
      # One jitter for the whole window: the frames stacked as one tall image.
      images = augment.colour_jitter(images.reshape(-1, size, 3), rng, self.aug_cfg).reshape(images.shape)
    flows, conf = flows_to_heatmap(self._flows(idx, records, frames), matrix, size,
                                   self.input_cfg.stride)
    example["image"] = images[n]
    example.update(images=images, flows=flows, confidence=conf)
    return example


class WindowTrainTransform(_WindowBase, grain.transforms.RandomMap):
  """Centre record index -> augmented window example (module docstring).

  Randomness only from grain's per-element generator: one ``sample_affine``
  (with flip) for the whole window, then one colour jitter for all frames.

  Args:
    config: uses ``input.*``, ``augment.*``, ``flow.*`` (``_flow_cfg``).
    source: random-access records; ``source[j]`` is read for each window frame.
    layout: ``video_layout(source)`` if already computed.
  """

  def random_map(self, element: int, rng: np.random.Generator) -> dict[str, Any]:
    return self._example(int(element), rng)


class WindowEvalTransform(_WindowBase, grain.transforms.Map):
  """Centre record index -> deterministic window example (letterbox only, no flip/jitter)."""

  def map(self, element: int) -> dict[str, Any]:
    return self._example(int(element), None)


# ---------------------------------------------------------------- iterators


def _centres(source: Sequence[dict]) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
  vids, frames, annotated = _scan(source)
  return np.flatnonzero(annotated).astype(np.int64), _runs(vids, frames)


def make_window_train_iterator(source: Sequence[dict], config: ml_collections.ConfigDict, *,
                               shard_index: int | None = None, shard_count: int | None = None
                               ) -> grain.DatasetIterator:
  """Infinite iterator of this host's window training batches.

  As ``pipeline.make_train_iterator`` (same seeds, sharding, determinism and
  ``get_state``/``set_state``), over annotated centre records (records with
  ``annotated`` False are only neighbours). Scans ``source`` once (``_scan``).

  Returns:
    A grain ``DatasetIterator`` of ``WindowTrainTransform`` examples with a
    leading batch axis of ``batch_size // shard_count``.
  """
  index, count = pipeline._shard(shard_index, shard_count)  # pylint: disable=protected-access
  local_batch = pipeline.split_batch(config.batch_size, count, "hosts (shard_count)")
  centres, layout = _centres(source)
  ds = grain.MapDataset.source(centres.tolist())[index::count]
  if len(ds) == 0:
    raise InputError(f"shard {index} of {count} of a source with {len(centres)} annotated records "
                     f"is empty: use a larger split or fewer hosts")
  shuffle_seed = pipeline.derive_seed(config.seed, pipeline.SHUFFLE_STREAM,
                                      config.input.get("shuffle_buffer_seed", 0))
  augment_seed = pipeline.derive_seed(config.seed, pipeline.AUGMENT_STREAM, index)
  ds = (ds.shuffle(seed=shuffle_seed)
        .repeat()
        .random_map(WindowTrainTransform(config, source, layout), seed=augment_seed)
        .batch(local_batch, drop_remainder=True))
  it_ds = ds.to_iter_dataset(pipeline._read_options(config))  # pylint: disable=protected-access
  workers = int(config.input.workers)
  if workers > 0:
    pipeline._enable_grain_workers()  # pylint: disable=protected-access
    it_ds = it_ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
  return iter(it_ds)


def make_window_eval_batches(source: Sequence[dict], config: ml_collections.ConfigDict, *,
                             batch_size: int | None = None, max_examples: int = 0,
                             shard_index: int | None = None, shard_count: int | None = None
                             ) -> Iterator[dict[str, np.ndarray]]:
  """Deterministic window batches, every annotated centre once, in order.

  As ``pipeline.make_eval_batches``: ``max_examples`` keeps the first N
  annotated centres, the last batch is padded with copies of its last example
  and ``"_mask"`` [batch_size] bool marks real ones.
  """
  bs = int(config.eval.batch_size if batch_size is None else batch_size)
  if bs < 1:
    raise ConfigError(f"eval batch size must be >= 1, got {bs}")
  centres, layout = _centres(source)
  if max_examples:
    centres = centres[:int(max_examples)]
  ds = grain.MapDataset.source(centres.tolist())
  if shard_index is not None or shard_count is not None:
    index, count = pipeline._shard(shard_index, shard_count)  # pylint: disable=protected-access
    ds = ds[index::count]
  ds = ds.map(WindowEvalTransform(config, source, layout)).batch(bs, drop_remainder=False)
  return pipeline._padded(ds.to_iter_dataset(pipeline._read_options(config)), bs)  # pylint: disable=protected-access


__all__ = [
    "FLOW_DEFAULTS", "SOURCES", "video_layout", "window_indices", "invert_flow",
    "flows_to_heatmap", "WindowTrainTransform", "WindowEvalTransform",
    "make_window_train_iterator", "make_window_eval_batches",
]
