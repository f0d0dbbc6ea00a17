"""Temporal windows for the Flowing ConvNet: 2n+1 frames, one augmentation, flows.

``WindowExamples`` is the temporal element transform of
``flowpose_jax.data.pipeline``. Its elements are the *centre* record indices:
every record whose ``annotated`` is True (or absent); the others serve only
as neighbours. A centre i's window is the records
``window_indices(i, n, starts, ends)``: i-n .. i+n clipped to the run of
consecutive frames of i's video (``video_layout``), so edge frames repeat and a
window never crosses into another video (or over a gap in ``frame_index``).

Example (``WindowExamples.example``), T = 2n+1,
S = ``input.size``, h = S // ``input.stride``:
  ``images`` [T, S, S, 3] uint8, the window warped with the centre's affine;
  ``flows`` [T, h, h, 2] float32 (dx, dy) heatmap px, centre -> frame t:
    heatmap pixel u of the centre frame shows the point at u + flows[t, u] of
    frame t, so ``warp.warp(heatmaps_t, flows[t])`` brings frame t's heatmaps
    onto the centre (``flowpose_jax.flow.compute`` convention). 0 where
    unknown (and then ``confidence`` 0);
  ``confidence`` [T, h, h, 1] float32: 1 where the flow is known (finite), the
    centre point A⁻¹(u) lies inside the frame and its target x + f(x) too
    (else 0); with ``config.flow.confidence = "fb"`` that times the flow's
    forward-backward confidence in [0, 1] (``compute.window_flows``);
  and, for the centre frame, exactly the keys of ``frames`` (``image`` =
  ``images[n]``, ``targets``, ``weights``, ``joints``, ``matrix``,
  ``frame_joints``, ``frame_visible``, ``flipped``, ``video_id``,
  ``frame_index``).

Flow source (``config.flow``: ``source``, ``n``, ``mode``, ``cache_dir``, all
required; ``configs/flow.py`` sets them): ``source`` "gt" composes the records' exact forward flows ``flow``
(t -> t+1); backward steps t -> t-1 invert f_{t-1 -> t} by fixed-point
iteration (``invert_flow``). ``source`` one of ``compute.METHODS`` computes
flow on the host with ``compute.window_flows`` (``mode`` "direct" | "composed";
optional ``confidence`` "valid" | "fb", default "valid"), cached per (video_id,
centre frame_index, n) under ``cache_dir`` when set. "fb" needs a computed source.

Precomputed maps (``config.flow.maps = "precomputed"``; default "network"):
the HeatmapNet is frozen in the flowing stage, so its maps of every record
can be computed once (``frame_maps``: the evaluation view and its mirror
image) instead of for all 2n+1 frames of every window at every step, as the
paper's pipeline did. ``WindowExamples(config, source, maps=...)`` then gives
``maps`` [T, h, h, J] float32 (the window frames' maps in the window's view)
instead of ``images``; training's only augmentation is the flip
(``augment.flip``), since any other draw would need the network again. The
frames of a window must share their evaluation view (same frame size and
crop, e.g. whole frames); a window that does not is refused.

Geometry: for the frame -> input affine A (linear part L) the input-space flow
is L·f(A⁻¹p); on the heatmap grid it is sampled at the frame point of each
heatmap pixel centre and divided by the stride: one bilinear sample of the
frame flow per heatmap pixel, rather than warping the flow to S×S and then
resampling it to the heatmap grid (two interpolations). A flip makes det L < 0, so x components change sign by
themselves; left/right channel swaps apply only to joints and targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ml_collections
import numpy as np

from flowpose_jax import heatmaps
from flowpose_jax.data import augment, frames, sources
from flowpose_jax.errors import ConfigError, InputError
from flowpose_jax.flow import compute
from flowpose_jax.flow.compute import (CONFIDENCES, FB_CONFIDENCE, GT_SOURCE, MAP_SOURCES, NETWORK_MAPS,
                                       PRECOMPUTED_MAPS, SOURCES, VALID_CONFIDENCE)
from flowpose_jax.flow.runs import frame_runs, window_indices

FLOW_KEYS: tuple[str, ...] = ("source", "n", "mode", "cache_dir")
# Optional keys: config.flow.maps (default NETWORK_MAPS, one of MAP_SOURCES), config.flow.spread
# (default 0) and config.flow.confidence (default VALID_CONFIDENCE, one of CONFIDENCES).
MAP_VIEWS = 2  # frame_maps views: the evaluation view and its mirror image
SPREAD_SPACING = 2.0  # input px between motion-spread samples (flows_to_heatmap)
# Fixed-point iterations inverting a forward flow (see ``invert_flow``).
INVERT_ITERATIONS = 5
# Memory for inverted ground-truth flows per WindowExamples (InverseFlowCache): all 2000 records of
# synthetic_signers/demo at 128x128 take 262 MB.
INVERSE_CACHE_BYTES = 512 << 20
ANNOTATED_KEY = "annotated"
ID_KEYS: tuple[str, ...] = ("video_id", "frame_index", ANNOTATED_KEY)


def flow_settings(config: ml_collections.ConfigDict) -> ml_collections.FrozenConfigDict:
  """``config.flow`` checked: every key of ``FLOW_KEYS`` present and valid."""
  section = config.get("flow")
  if section is None:
    raise ConfigError("config.flow is missing: temporal windows need a flow section "
                      f"({', '.join(FLOW_KEYS)}); start from configs/flow.py")
  missing = [k for k in FLOW_KEYS if k not in section]
  if missing:
    raise ConfigError(f"config.flow lacks {', '.join('config.flow.' + k for k in missing)}: "
                      "set it (configs/flow.py has every key)")
  cfg = {k: section[k] for k in FLOW_KEYS}
  if cfg["source"] not in SOURCES:
    raise ConfigError(f"config.flow.source={cfg['source']!r} is not one of {list(SOURCES)}")
  if cfg["mode"] not in compute.MODES:
    raise ConfigError(f"config.flow.mode={cfg['mode']!r} is not one of {list(compute.MODES)}")
  if int(cfg["n"]) < 0:
    raise ConfigError(f"config.flow.n={cfg['n']} must be >= 0 (window of 2n+1 frames)")
  cfg["n"] = int(cfg["n"])
  cfg["spread"] = float(section.get("spread", 0.0))
  if not cfg["spread"] >= 0:
    raise ConfigError(f"config.flow.spread={cfg['spread']} must be >= 0 (input px; 0 = off)")
  cfg["maps"] = section.get("maps", NETWORK_MAPS)
  if cfg["maps"] not in MAP_SOURCES:
    raise ConfigError(f"config.flow.maps={cfg['maps']!r} is not one of {list(MAP_SOURCES)}")
  cfg["confidence"] = section.get("confidence", VALID_CONFIDENCE)
  if cfg["confidence"] not in CONFIDENCES:
    raise ConfigError(f"config.flow.confidence={cfg['confidence']!r} is not one of {list(CONFIDENCES)}")
  if cfg["confidence"] == FB_CONFIDENCE and cfg["source"] == GT_SOURCE:
    raise ConfigError("config.flow.confidence='fb' tests computed flow against its reverse; the exact flow "
                      f"(source 'gt') has no error to find: set config.flow.source to one of {list(compute.METHODS)} "
                      "or config.flow.confidence='valid'")
  return ml_collections.FrozenConfigDict(cfg)


# ----------------------------------------------------------------- layout


def read_ids(source: Sequence[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Reads ``video_id``, ``frame_index`` and ``annotated`` of every record once.

  Images, flow and the other features are not decoded
  (``sources.id_records``): for a TFDS data source the cost is reading each
  record's bytes and parsing its protobuf.

  Returns:
    video_ids [N] int64 (-1 when absent), frame_indices [N] int64 (-1 when
    absent), annotated [N] bool (True when absent).
  """
  n = len(source)
  vids = np.empty(n, np.int64)
  frame_indices = np.empty(n, np.int64)
  annotated = np.ones(n, bool)
  for i, r in enumerate(sources.id_records(source, ID_KEYS)):
    vids[i] = int(r.get("video_id", -1))
    frame_indices[i] = int(r.get("frame_index", -1))
    annotated[i] = bool(r.get(ANNOTATED_KEY, True))
  return vids, frame_indices, annotated


def video_layout(source: Sequence[dict] | None = None, *, video_ids: np.ndarray | None = None,
                 frame_indices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
  """The run of consecutive frames of each record's video.

  Records are in (video, frame) order. A run ends where ``video_id`` changes
  or, when frame indices are known, where ``frame_index`` does not increase by
  exactly 1 (a gap, e.g. BBC Pose's sparse annotated frames).

  Args:
    source: random-access records; their ids are read once (``read_ids``)
      unless ``video_ids`` is given.
    video_ids: [N] int, skips reading ``source``.
    frame_indices: [N] int (optional, with ``video_ids``) to split at gaps.

  Returns:
    starts [N] int64, ends [N] int64: record i's run is ``[starts[i], ends[i])``.
  """
  if video_ids is None:
    if source is None:
      raise ValueError("video_layout needs source or video_ids")
    video_ids, frame_indices, _ = read_ids(source)
  return frame_runs(video_ids, frame_indices)


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


class InverseFlowCache:
  """``invert_flow`` of records' forward flows, kept in memory up to ``max_bytes`` (oldest out first).

  A record's inverted flow serves every window that steps back over it (up
  to n of them), so it is computed once rather than per window. Safe under
  grain's reader threads (a race computes one inversion twice).
  """

  def __init__(self, max_bytes: int = INVERSE_CACHE_BYTES):
    self.max_bytes = int(max_bytes)
    self._flows: dict[int, np.ndarray] = {}
    self._bytes = 0

  def get(self, key: int, forward: np.ndarray) -> np.ndarray:
    hit = self._flows.get(key)
    if hit is not None:
      return hit
    inverse = invert_flow(forward)
    if inverse.nbytes <= self.max_bytes:
      while self._bytes + inverse.nbytes > self.max_bytes and self._flows:
        self._bytes -= self._flows.pop(next(iter(self._flows))).nbytes
      self._flows[key] = inverse
      self._bytes += inverse.nbytes
    return inverse


def _gt_window_flows(records: list[dict], idx: np.ndarray, n: int,
                     inverses: InverseFlowCache | None = None) -> np.ndarray:
  """[T, H, W, 2] float32 exact-ish flow centre -> each window frame from records' ``flow``
  (``inverses``: where backward steps' inverted flows are kept, by record index)."""
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
        if sign > 0:
          step = fwd[prev]
        else:
          step = invert_flow(fwd[j]) if inverses is None else inverses.get(j, fwd[j])
        chain = step if chain is None else compute.compose_flows(chain, step)
        prev = j
      if chain is not None:
        out[n + sign * k] = chain
  return out


def _computed_window_flows(records: list[dict], images: np.ndarray, n: int, flow_cfg) -> np.ndarray:
  """[T, H, W, C] ``compute.window_flows`` of a window (C = 3 with "fb" confidence), cached when
  ``flow_cfg.cache_dir`` is set."""
  def run():
    return compute.window_flows(images, n, n, method=flow_cfg.source, mode=flow_cfg.mode,
                                confidence=flow_cfg.confidence)

  if not flow_cfg.cache_dir:
    return run()
  centre = records[n]
  # "valid" windows keep the key they had before confidence existed, so their caches stay valid.
  extra = {} if flow_cfg.confidence == VALID_CONFIDENCE else {"confidence": flow_cfg.confidence}
  key = compute.flow_config_key(flow_cfg.source, flow_cfg.mode, images.shape[1], images.shape[2],
                                window=True, **extra)
  cache = compute.FlowCache(flow_cfg.cache_dir, key)
  return cache.get_or_compute(str(int(centre.get("video_id", -1))),
                              compute.window_key(int(centre.get("frame_index", -1)), n), run)


def spread_offsets(spread: float) -> np.ndarray:
  """[K, 2] float64 (dx, dy) input px of the motion-spread samples: a square grid over
  ``[-spread, spread]^2`` with spacing at most ``SPREAD_SPACING`` (just (0, 0) when spread is 0)."""
  if spread < 0:
    raise ValueError(f"spread must be >= 0, got {spread}")
  k = int(np.ceil(spread / SPREAD_SPACING))
  steps = np.linspace(-spread, spread, 2 * k + 1)
  return np.stack(np.meshgrid(steps, steps), -1).reshape(-1, 2)


def flows_to_heatmap(flows: np.ndarray, matrix: np.ndarray, size: int, stride: int, spread: float = 0.0
                     ) -> tuple[np.ndarray, np.ndarray]:
  """Frame-resolution window flows -> augmented heatmap-grid flows and confidence.

  Each heatmap pixel takes the frame flow at its frame point (one bilinear
  sample). With ``spread`` > 0 ("motion spread") it takes, of the samples on
  a grid within ``spread`` input px of that point (``spread_offsets``), the
  known one of largest magnitude: a moving part then carries the pixels
  around it, so a thin, fast limb's heatmap moves with it instead of being
  read from the static background beside it (config.flow.spread;
  ``flowpose study pooling`` measures its effect, benchmarks/flows_to_heatmap.py its cost).

  Args:
    flows: [T, H, W, C] float (dx, dy) frame px, centre -> frame t (NaN
      unknown); C = 3 adds a confidence channel in [0, 1] (e.g.
      ``compute.window_flows(..., confidence="fb")``), sampled with the flow.
    matrix: [2, 3] frame -> input affine A (the window's, flip included).
    size: S, the input side; stride: input px per heatmap px (h = S // stride).
    spread: radius in input px (0: the pixel centre's flow alone).

  Returns:
    flows [T, h, h, 2] float32 heatmap px (0 where unknown) and confidence
    [T, h, h, 1] float32: 1 where known, the heatmap pixel's frame point lies
    inside the frame and its flow target too, else 0; times the sampled
    confidence channel when there is one.
  """
  flows = np.asarray(flows, np.float32)
  if flows.ndim != 4 or flows.shape[-1] not in (2, 3):
    raise ValueError(f"flows must be [T, H, W, 2] or [T, H, W, 3] (with confidence), got {flows.shape}")
  _, fh, fw = flows.shape[:3]
  h = size // stride
  lin = np.asarray(matrix, np.float64)[:, :2]
  offsets = spread_offsets(float(spread))  # [K, 2] input px; offset 0 (the centre) is one of them
  p_frame = heatmaps.heatmap_points(matrix, size, stride, offsets)  # [K, h*h, 2]
  # Only the 4 bilinear taps of each sample point are read (not whole frames): a tap whose flow is
  # unknown or leads outside the frame is NaN, and a NaN tap makes the sample unknown.
  (x0, y0, x1, y1), (ax, ay), inside = compute.bilinear_taps(fh, fw, p_frame[..., 0], p_frame[..., 1])

  def tap(yy, xx):  # [T, K, h*h, C] float32 of one tap, NaN where the flow is unknown or leaves the frame
    v = flows[:, yy, xx]
    tx, ty = xx.astype(np.float32) + v[..., 0], yy.astype(np.float32) + v[..., 1]
    with np.errstate(invalid="ignore"):
      ok = (tx >= 0) & (tx <= fw - 1) & (ty >= 0) & (ty <= fh - 1)
    return np.where(ok[..., None], v, np.nan)

  sampled = compute.blend_taps(tap(y0, x0), tap(y0, x1), tap(y1, x0), tap(y1, x1), ax, ay)
  sampled = np.where(inside[..., None], sampled, np.nan).astype(np.float32)  # [T, K, h*h, C]
  if len(offsets) > 1:
    known = np.isfinite(sampled[..., :2]).all(-1)
    centre_known = known[:, len(offsets) // 2]  # the pixel's own point
    magnitude = np.where(known, np.hypot(sampled[..., 0], sampled[..., 1]), -1.0)
    best = np.argmax(magnitude, axis=1)  # [T, h*h]
    sampled = np.take_along_axis(sampled, best[:, None, :, None], axis=1)[:, 0]
    sampled = np.where(centre_known[..., None], sampled, np.nan)
  else:
    sampled = sampled[:, 0]
  out = ((sampled[..., :2].astype(np.float64) @ lin.T) / stride).astype(np.float32).reshape(len(flows), h, h, 2)
  known = np.all(np.isfinite(out), -1, keepdims=True)
  conf = known.astype(np.float32)
  if flows.shape[-1] == 3:
    extra = sampled[..., 2:].reshape(len(flows), h, h, 1)
    conf = np.where(known, np.clip(np.nan_to_num(extra, nan=0.0), 0.0, 1.0), 0.0).astype(np.float32)
  return np.where(known, out, 0.0).astype(np.float32), conf


# ---------------------------------------------------------------- precomputed maps


def view_matrix(record: dict, image_hw: tuple[int, int], input_cfg, flip: bool) -> np.ndarray:
  """[2, 3] float32 frame -> input affine of a record's evaluation view (mirrored when ``flip``)."""
  base, _ = frames.input_matrix(image_hw, record.get("box"), input_cfg, None, None, record["joints"],
                                record["visible"])
  return augment.compose_affine(augment.flip_affine(input_cfg.size), base) if flip else base


def frame_maps(frame_fn, source: Sequence[dict], config: ml_collections.ConfigDict, *,
               batch_size: int = 32, desc: str = "frame maps") -> np.ndarray:
  """Every record's per-frame maps in both views, for ``config.flow.maps = "precomputed"``.

  Args:
    frame_fn: inputs [B, S, S, 3] uint8 -> maps [B, h, h, J] (the frozen
      HeatmapNet, e.g. ``models.flowing_parts``' ``frame`` on the run's params).
    source: random-access records.
    config: uses ``input.*``.
    batch_size: records per call of ``frame_fn`` (each call gets 2x as many inputs).

  Returns:
    [N, MAP_VIEWS, h, h, J] float32: view 0 the evaluation view
    (``view_matrix``), view 1 its mirror image (channels in the mirrored
    image's left/right order, as the network sees a flipped window).
  """
  from tqdm.auto import tqdm  # pylint: disable=import-outside-toplevel
  input_cfg = ml_collections.FrozenConfigDict(config.input)
  size = input_cfg.size
  out = None
  for start in tqdm(range(0, len(source), batch_size), desc=desc, unit="batch", leave=False):
    records = [source[i] for i in range(start, min(len(source), start + batch_size))]
    inputs = np.empty((len(records), MAP_VIEWS, size, size, 3), np.uint8)
    for k, r in enumerate(records):
      image = frames.record_image(r)
      for v in range(MAP_VIEWS):
        inputs[k, v] = augment.warp_example(image, r["joints"], r["visible"],
                                            view_matrix(r, image.shape[:2], input_cfg, bool(v)), bool(v),
                                            size)[0]
    maps = np.asarray(frame_fn(inputs.reshape((-1, size, size, 3))), np.float32)
    maps = maps.reshape((len(records), MAP_VIEWS) + maps.shape[1:])
    if out is None:
      out = np.empty((len(source),) + maps.shape[1:], np.float32)
    out[start:start + len(records)] = maps
  if out is None:
    raise InputError("frame_maps: the source has no records")
  return out


# ---------------------------------------------------------------- transforms


class WindowExamples:
  """Centre record index -> window example (module docstring).

  Training (``rng`` given): one ``frames.input_matrix`` draw (with flip) for
  the whole window, then one colour jitter for all frames, drawn only from
  ``rng``. Evaluation (``rng`` None): the letterbox alone. With precomputed
  maps, training draws only the flip (module docstring).

  Args:
    config: uses ``input.*``, ``augment.*`` and ``flow.*`` (every key of
      ``FLOW_KEYS``; ConfigError naming the missing one).
    source: random-access records; ``source[j]`` is read for each window
      frame. Its ids are read once here (``read_ids``).
    maps: ``frame_maps(..., source, config)`` [N, MAP_VIEWS, h, h, J], required
      exactly when ``config.flow.maps`` is "precomputed".

  Attributes:
    elements: [M] int64 the annotated centre indices.
    starts, ends: [N] int64 each record's run (``video_layout``).
  """

  def __init__(self, config: ml_collections.ConfigDict, source: Sequence[dict], maps: np.ndarray | None = None):
    self.input_cfg = ml_collections.FrozenConfigDict(config.input)
    self.aug_cfg = ml_collections.FrozenConfigDict(config.augment)
    self.flow_cfg = flow_settings(config)
    h = frames.heatmap_size(self.input_cfg)
    if sources.contains_subset(source):
      raise ConfigError("config.dataset.train_subset draws records apart from the neighbours a window of "
                        "2n+1 frames reads, and so does train_shares' repetition: set them to 0 and '' for "
                        "the flowing stage (restrict the frames with a slice of dataset.train_split "
                        "instead, e.g. train[:1000])")
    self.source = source
    precomputed = self.flow_cfg.maps == PRECOMPUTED_MAPS
    if precomputed and maps is None:
      raise ConfigError("config.flow.maps='precomputed' needs the frozen HeatmapNet's maps of every record "
                        "(windows.frame_maps; `flowpose train` computes them): pass maps=, or set "
                        "config.flow.maps='network'")
    if maps is not None:
      if not precomputed:
        raise ConfigError("maps were given but config.flow.maps is 'network': set "
                          "config.flow.maps='precomputed' to use them")
      maps = np.asarray(maps, np.float32)
      if maps.ndim != 5 or maps.shape[:4] != (len(source), MAP_VIEWS, h, h):
        raise InputError(f"precomputed maps must be [N={len(source)}, {MAP_VIEWS}, {h}, {h}, J] for this "
                         f"source and config.input, got {maps.shape}: compute them with windows.frame_maps")
    self.maps = maps
    self._inverses = InverseFlowCache()
    video_ids, frame_indices, annotated = read_ids(source)
    self.starts, self.ends = frame_runs(video_ids, frame_indices)
    self.elements = np.flatnonzero(annotated).astype(np.int64)

  def _read(self, i: int) -> tuple[np.ndarray, list[dict], np.ndarray]:
    idx = window_indices(int(i), self.flow_cfg.n, self.starts, self.ends)
    cache = {int(j): self.source[int(j)] for j in np.unique(idx)}
    records = [cache[int(j)] for j in idx]
    return idx, records, np.stack([frames.record_image(r) for r in records])

  def _flows(self, idx, records, images) -> np.ndarray:
    n = self.flow_cfg.n
    if self.flow_cfg.source == GT_SOURCE:
      return _gt_window_flows(records, idx, n, self._inverses)
    return _computed_window_flows(records, images, n, self.flow_cfg)

  def example(self, i: int, rng: np.random.Generator | None = None) -> dict[str, Any]:
    """The window example of centre ``i``: augmented with ``rng``, deterministic without."""
    if self.maps is not None:
      return self._map_example(i, rng)
    n, size = self.flow_cfg.n, self.input_cfg.size
    idx, records, images = self._read(i)
    centre = records[n]
    matrix, flip = frames.input_matrix(images.shape[1:3], centre.get("box"), self.input_cfg,
                                       self.aug_cfg, rng, centre["joints"], centre["visible"])
    example, _ = frames.encode_example(centre, images[n], matrix, flip, self.input_cfg)
    warped = np.empty((len(idx), size, size, 3), np.uint8)
    for t, r in enumerate(records):
      warped[t] = (example["image"] if t == n else
                   augment.warp_example(images[t], r["joints"], r["visible"], matrix, flip, size)[0])
    if rng is not None and self.aug_cfg.enabled:
      # One jitter for the whole window: the frames stacked as one tall image.
      warped = augment.colour_jitter(warped.reshape(-1, size, 3), rng, self.aug_cfg).reshape(warped.shape)
      warped = augment.degrade(warped, rng, self.aug_cfg)
    flows, conf = flows_to_heatmap(self._flows(idx, records, images), matrix, size,
                                   self.input_cfg.stride, self.flow_cfg.spread)
    example["image"] = warped[n]
    example.update(images=warped, flows=flows, confidence=conf)
    return example

  def _map_example(self, i: int, rng: np.random.Generator | None) -> dict[str, Any]:
    """``example`` from precomputed maps: the evaluation view, mirrored with p = 0.5 in training."""
    n = self.flow_cfg.n
    idx, records, images = self._read(i)
    centre = records[n]
    flip = False
    if rng is not None:
      flip = bool(rng.uniform() < augment.FLIP_PROBABILITY) and self.aug_cfg.enabled and bool(self.aug_cfg.flip)
    matrix = view_matrix(centre, images.shape[1:3], self.input_cfg, flip)
    for j, r in zip(idx, records):
      if not np.allclose(view_matrix(r, images.shape[1:3], self.input_cfg, flip), matrix, atol=1e-4):
        raise InputError(f"record {int(j)} (video {r.get('video_id', '?')}, frame {r.get('frame_index', '?')}) "
                         f"has another evaluation view than its window's centre {int(i)} (config.input.crop="
                         f"{self.input_cfg.crop!r} crops each frame differently), so its precomputed maps do "
                         "not line up with the window: set config.flow.maps='network'")
    example, _ = frames.encode_example(centre, images[n], matrix, flip, self.input_cfg)
    flows, conf = flows_to_heatmap(self._flows(idx, records, images), matrix, self.input_cfg.size,
                                   self.input_cfg.stride, self.flow_cfg.spread)
    example.update(maps=self.maps[idx, int(flip)], flows=flows, confidence=conf)
    return example


__all__ = [
    "FLOW_KEYS", "GT_SOURCE", "MAP_SOURCES", "MAP_VIEWS", "NETWORK_MAPS", "SOURCES", "WindowExamples",
    "flow_settings", "flows_to_heatmap", "frame_maps", "spread_offsets", "invert_flow", "read_ids", "video_layout",
    "view_matrix", "window_indices",
]
