"""Dense optical flow on the host (numpy + OpenCV), its composition, sampling and cache.

Convention (the whole project uses it; see ``flowpose_jax.flow.warp``):
``flow_a_to_b[y, x] = (dx, dy)`` says that pixel (x, y) of frame a shows the
same point as position (x + dx, y + dy) of frame b. This is what
``cv2.calcOpticalFlow*(prev=a, next=b)`` returns, and it is the field that
*backward-warps* b onto a's grid: ``warped_b(x) = b(x + flow_a_to_b(x))``
(``cv2.remap`` with ``map = grid + flow``, or ``warp.warp``). To bring frame
t+k's heatmaps to frame t use ``flow_between(frame_t, frame_tk)``.

Coordinates are (x, y) px, pixel centres at integers (``flowpose_jax.heatmaps``).
Out-of-frame samples while composing are NaN ("unknown"); ``warp.warp`` turns
NaN vectors into output 0 / valid 0.

Flow with confidence: a field [..., 3] = (dx, dy, c), c in [0, 1] how far the
flow is trusted (``with_fb_confidence``: forward-backward consistency).
``compose_flows``, ``track_points`` and ``window_flows`` carry it: along a chain
the confidences multiply, each read where the chain has arrived.
"""

from __future__ import annotations

import hashlib
import json
import os

import cv2
import numpy as np

from flowpose_jax import fileio
from flowpose_jax.errors import FlowposeError

# Bump when anything here changes the numbers a cached flow would hold.
FLOW_CODE_VERSION = 1

_DIS_PRESETS = {
    "dis_ultrafast": cv2.DISOpticalFlow_PRESET_ULTRAFAST,
    "dis_fast": cv2.DISOpticalFlow_PRESET_FAST,
    "dis_medium": cv2.DISOpticalFlow_PRESET_MEDIUM,
}
# OpenCV's documented example settings (samples/python/opt_flow.py).
FARNEBACK_PARAMS = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
                        poly_sigma=1.2, flags=0)
# "dis_fine": the medium preset run down to the full-resolution pyramid level (medium stops at
# scale 1, half resolution, and upsamples its flow). Keys are cv2.DISOpticalFlow setters without
# "set". Chosen at the joints of synthetic signers (benchmarks/flow_joints.py,
# results/flow_joints.md): on 128² inputs scale 0 cuts the wrists' median error from 1.96 to 0.55
# frame px (k = 1). In side runs (seeds 400-402) 10 variational refinement iterations (medium: 5)
# or 50 gradient-descent iterations (medium: 25) gained nothing more, and patch stride 2
# (medium: 3) a little on large motion only, for 1.5x the time.
DIS_FINE_SETTINGS = {"FinestScale": 0}
# opencv-contrib's dense methods (``cv2.optflow``), each at OpenCV's defaults: DeepFlow
# (Weinzaepfel et al. 2013), dual TV-L1 (Zach et al. 2007), dense RLOF (Senst et al., sparse RLOF
# + geodesic interpolation) and PCAFlow (Wulff & Black 2015). Present only with
# opencv-contrib-python(-headless) of the same version as OpenCV, which ``FLOW_EXTRA_INSTALL`` installs.
CONTRIB_METHODS: tuple[str, ...] = ("deepflow", "tvl1", "rlof", "pcaflow")
FLOW_EXTRA_INSTALL = "pip install -c constraints.txt -e '.[flow]'"
# Append new methods at the end: configs, caches and results name them, and their order is stable.
METHODS: tuple[str, ...] = (*_DIS_PRESETS, "farneback", "dis_fine", *CONTRIB_METHODS)
# The flow vocabulary of configs (``config.flow``), training and inference, defined once here.
# Flow source: a synthetic set's exact flow, or computed by one of METHODS.
GT_SOURCE = "gt"
SOURCES: tuple[str, ...] = (GT_SOURCE, *METHODS)
# The computed source when none is named (a video has no exact flow): DIS at finer settings on the
# network-input crops is the most accurate flow at the joints per second of all METHODS, and the pooling
# study's best with it (benchmarks/results/flow_joints.md, flowing.md).
DEFAULT_METHOD = "dis_fine"
# Flow mode: "direct" flows t -> t+k, or "composed" chains of consecutive flows t -> t+1 -> ...
MODES: tuple[str, ...] = ("direct", "composed")
DEFAULT_MODE = "composed"  # keeps fast wrists over long windows (direct t -> t+k loses them), 2 flows a frame
# config.flow.maps: where a window's per-frame maps come from (the HeatmapNet run on every window
# frame, or its maps of every record computed once: data.windows.frame_maps).
NETWORK_MAPS = "network"
PRECOMPUTED_MAPS = "precomputed"
MAP_SOURCES: tuple[str, ...] = (NETWORK_MAPS, PRECOMPUTED_MAPS)
# config.flow.confidence: what the pooling is told about each warped pixel. "valid": 1 where the
# flow is known and stays in the frame, else 0; "fb": that times the forward-backward confidence
# (``fb_confidence``), which costs a second flow per pair in direct mode (the reverse one) and
# none in composed mode (a video's consecutive flows are computed both ways anyway).
VALID_CONFIDENCE = "valid"
FB_CONFIDENCE = "fb"
CONFIDENCES: tuple[str, ...] = (VALID_CONFIDENCE, FB_CONFIDENCE)


def _gray(frame: np.ndarray) -> np.ndarray:
  """[H, W, 3] RGB or [H, W] -> [H, W] uint8 grey."""
  frame = np.asarray(frame)
  if frame.dtype != np.uint8:
    frame = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
  if frame.ndim == 3:
    frame = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
  if frame.ndim != 2:
    raise ValueError(f"frames must be [H, W, 3] RGB or [H, W] grey, got shape {frame.shape}")
  return np.ascontiguousarray(frame)


def contrib_available() -> bool:
  """Whether OpenCV's contrib module ``cv2.optflow`` (``CONTRIB_METHODS``) is installed."""
  return hasattr(cv2, "optflow")


def available_methods() -> tuple[str, ...]:
  """The ``METHODS`` that ``flow_between`` can run here (in ``METHODS`` order)."""
  return tuple(m for m in METHODS if m not in CONTRIB_METHODS or contrib_available())


def _dis(preset: int, settings: dict | None = None):
  def flow(a, b):
    dis = cv2.DISOpticalFlow_create(preset)
    for name, value in (settings or {}).items():
      getattr(dis, f"set{name}")(value)
    return dis.calc(a, b, None)
  return flow


# Each takes two [H, W] uint8 grey frames and returns [H, W, 2] flow a -> b. Dense RLOF's default
# (cross-shaped support region) asserts 3-channel input: it gets the grey frame thrice, so every
# method sees the same luminance.
_FLOWS = {
    **{name: _dis(preset) for name, preset in _DIS_PRESETS.items()},
    "farneback": lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, **FARNEBACK_PARAMS),
    "dis_fine": _dis(cv2.DISOpticalFlow_PRESET_MEDIUM, DIS_FINE_SETTINGS),
    "deepflow": lambda a, b: cv2.optflow.createOptFlow_DeepFlow().calc(a, b, None),
    "tvl1": lambda a, b: cv2.optflow.DualTVL1OpticalFlow_create().calc(a, b, None),
    "rlof": lambda a, b: cv2.optflow.calcOpticalFlowDenseRLOF(
        cv2.cvtColor(a, cv2.COLOR_GRAY2BGR), cv2.cvtColor(b, cv2.COLOR_GRAY2BGR), None),
    "pcaflow": lambda a, b: cv2.optflow.createOptFlow_PCAFlow().calc(a, b, None),
}


def flow_between(frame_a: np.ndarray, frame_b: np.ndarray, method: str = DEFAULT_METHOD) -> np.ndarray:
  """Dense flow a -> b (see the module docstring for the convention).

  Args:
    frame_a, frame_b: [H, W, 3] uint8 RGB (or [H, W] grey) of the same size.
    method: one of ``METHODS``: "dis_ultrafast" | "dis_fast" | "dis_medium"
      (OpenCV DIS presets) | "farneback" (``FARNEBACK_PARAMS``) | "dis_fine"
      (``DIS_FINE_SETTINGS``) | "deepflow" | "tvl1" | "rlof" | "pcaflow"
      (``CONTRIB_METHODS``: need ``cv2.optflow``).

  Returns:
    [H, W, 2] float32 (dx, dy) px: pixel (x, y) of a is at (x + dx, y + dy) in b.

  Raises:
    ValueError: an unknown method or frames of different sizes.
    FlowposeError: a contrib method without ``cv2.optflow`` (names the install command).
  """
  if method not in METHODS:
    raise ValueError(f"flow method {method!r} is unknown; choose one of {list(METHODS)}")
  if method in CONTRIB_METHODS and not contrib_available():
    raise FlowposeError(f"flow method {method!r} needs OpenCV's contrib module cv2.optflow, which this "
                        f"OpenCV lacks: {FLOW_EXTRA_INSTALL} (or pick one of {list(available_methods())})")
  a, b = _gray(frame_a), _gray(frame_b)
  if a.shape != b.shape:
    raise ValueError(f"frames differ in size: {a.shape} vs {b.shape}")
  if np.array_equal(a, b):  # repeated frames (clipped windows): exactly no motion.
    return np.zeros((*a.shape, 2), np.float32)
  return np.asarray(_FLOWS[method](a, b), np.float32)


def bilinear_taps(h: int, w: int, x: np.ndarray, y: np.ndarray):
  """The four taps and weights of an exact bilinear sample of an [h, w] grid at float points.

  Args:
    h, w: the grid's size.
    x, y: [...] float sample coordinates (pixel centres at integers).

  Returns:
    (x0, y0, x1, y1) [...] int64 tap indices, (ax, ay) [..., 1] float64
    weights of the x1 / y1 taps, and inside [...] bool (the point lies in
    ``[0, w-1] x [0, h-1]`` and is finite; points outside are clamped).
  """
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1) & np.isfinite(x) & np.isfinite(y)
  xc = np.clip(np.nan_to_num(x), 0, w - 1)
  yc = np.clip(np.nan_to_num(y), 0, h - 1)
  x0 = np.minimum(np.floor(xc).astype(np.int64), max(w - 2, 0))
  y0 = np.minimum(np.floor(yc).astype(np.int64), max(h - 2, 0))
  x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
  return (x0, y0, x1, y1), ((xc - x0)[..., None], (yc - y0)[..., None]), inside


def blend_taps(v00, v01, v10, v11, ax, ay):
  """Bilinear blend of tap values (v<row><col>: v01 is (y0, x1)), NaN in any tap propagating."""
  return (v00 * (1 - ax) + v01 * ax) * (1 - ay) + (v10 * (1 - ax) + v11 * ax) * ay


def sample_bilinear(field: np.ndarray, x: np.ndarray, y: np.ndarray, outside: str = "nan") -> np.ndarray:
  """Exact bilinear sample of ``field`` at float points (host side).

  Args:
    field: [H, W, C] float.
    x, y: [...] float sample coordinates (pixel centres at integers).
    outside: what points outside ``[0, W-1] x [0, H-1]`` read: "nan", or
      "edge" (clamp the point onto the image).

  Returns:
    [..., C] float32.
  """
  if outside not in ("nan", "edge"):
    raise ValueError(f"outside must be 'nan' or 'edge', got {outside!r}")
  field = np.asarray(field, np.float32)
  (x0, y0, x1, y1), (ax, ay), inside = bilinear_taps(*field.shape[:2], x, y)
  out = blend_taps(field[y0, x0], field[y0, x1], field[y1, x0], field[y1, x1], ax, ay)
  if outside == "nan":
    out = np.where(inside[..., None], out, np.nan)
  return out.astype(np.float32)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
  ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
  return xs, ys


def compose_flows(f_ab: np.ndarray, f_bc: np.ndarray) -> np.ndarray:
  """Chains two flows: ``f_ac(x) = f_ab(x) + f_bc(x + f_ab(x))``.

  Args:
    f_ab: [H, W, C] flow a -> b, C = 2, or 3 with a confidence channel.
    f_bc: [H, W, C] flow b -> c, the same C.

  Returns:
    [H, W, C] float32 flow a -> c; NaN where ``x + f_ab(x)`` leaves frame b
    (or ``f_ab`` is already NaN). With C = 3 the confidence is
    ``c_ab(x) * c_bc(x + f_ab(x))``.
  """
  f_ab = np.asarray(f_ab, np.float32)
  f_bc = np.asarray(f_bc, np.float32)
  if f_ab.shape != f_bc.shape or f_ab.shape[-1] not in (2, 3):
    raise ValueError(f"flows must both be [H, W, 2] or both [H, W, 3] (with confidence); got {f_ab.shape} "
                     f"and {f_bc.shape}")
  xs, ys = _grid(*f_ab.shape[:2])
  landed = sample_bilinear(f_bc, xs + f_ab[..., 0], ys + f_ab[..., 1])
  out = f_ab + landed
  if f_ab.shape[-1] == 3:
    out[..., 2] = f_ab[..., 2] * landed[..., 2]
  return out.astype(np.float32)


# Forward-backward consistency (Sundaram, Brox & Keutzer, ECCV 2010): a round trip a -> b -> a, f
# forward and g backward at the landing point, is consistent where
# |f + g|^2 < FB_REL * (|f|^2 + |g|^2) + FB_ABS_PX2; the tolerance grows with the motion because
# flow errors do.
FB_REL = 0.01
FB_ABS_PX2 = 0.5  # px^2, at the flows' own grid


def fb_confidence(flow_ab: np.ndarray, flow_ba: np.ndarray, rel: float = FB_REL,
                  abs_px2: float = FB_ABS_PX2) -> np.ndarray:
  """Forward-backward confidence of ``flow_ab``: how well b -> a undoes it, per pixel of a.

  For pixel x of a, ``f = flow_ab(x)`` lands at ``x + f`` in b, where
  ``g = flow_ba(x + f)`` (exact bilinear sample) should bring it back:
  the round-trip error is ``e = |f + g|``. With Sundaram et al.'s tolerance
  ``tau^2 = rel * (|f|^2 + |g|^2) + abs_px2``, the confidence is
  ``2^(-e^2 / tau^2) = exp(-e^2 / (2 sigma^2))``, ``sigma = tau / sqrt(2 ln 2)``
  (about 0.85 tau): 1 for an exact round trip, 0.5 exactly at their
  threshold (so ``conf > 0.5`` is their consistency test), 1/16 at 2 tau.
  Pixels whose landing point leaves b's frame (the pixels' area,
  ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``), or where either flow is NaN, get
  0. Pixels of a that b hides fail the test: b's flow where they land
  belongs to whatever covers them.

  Args:
    flow_ab: [H, W, 2] float flow a -> b, (dx, dy) px.
    flow_ba: [H, W, 2] float flow b -> a, same grid.
    rel: tolerance growth with the squared motion (``FB_REL``).
    abs_px2: tolerance for no motion, px^2 on this grid (``FB_ABS_PX2``).

  Returns:
    [H, W] float32 in [0, 1].
  """
  flow_ab = np.asarray(flow_ab, np.float64)
  flow_ba = np.asarray(flow_ba, np.float64)
  if flow_ab.shape != flow_ba.shape or flow_ab.ndim != 3 or flow_ab.shape[-1] != 2:
    raise ValueError(f"flows must both be [H, W, 2]; got {flow_ab.shape} and {flow_ba.shape}")
  h, w = flow_ab.shape[:2]
  xs, ys = _grid(h, w)
  x, y = xs + flow_ab[..., 0], ys + flow_ab[..., 1]
  # Pixels cover [-0.5, W - 0.5] x [-0.5, H - 0.5]: a landing point on the border pixels' outer
  # halves is still in b's frame (and reads the border's flow).
  inside = (x >= -0.5) & (x <= w - 0.5) & (y >= -0.5) & (y <= h - 0.5)
  back = sample_bilinear(flow_ba, x, y, outside="edge").astype(np.float64)
  err2 = np.sum((flow_ab + back) ** 2, -1)
  tau2 = rel * (np.sum(flow_ab ** 2, -1) + np.sum(back ** 2, -1)) + abs_px2
  conf = np.exp2(-err2 / tau2)
  return np.where(inside & np.isfinite(conf), conf, 0.0).astype(np.float32)


def with_fb_confidence(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
  """``flow_ab`` [H, W, 2] with its ``fb_confidence`` against ``flow_ba`` as a third channel -> [H, W, 3]."""
  flow_ab = np.asarray(flow_ab, np.float32)
  return np.concatenate([flow_ab, fb_confidence(flow_ab, flow_ba)[..., None]], -1)


def track_points(steps, x: np.ndarray, y: np.ndarray):
  """Follows points through a chain of flows, one step at a time.

  The point form of ``compose_flows``: after step i a point is at
  ``p_{i+1} = p_i + steps[i](p_i)`` (exact bilinear sample), so its
  displacement from the start is the composed flow at the start point itself,
  not an interpolation of a composed field. A point that is outside the frame
  where a step samples it becomes NaN from there on (as in ``compose_flows``).

  Args:
    steps: iterable of [H, W, C] flows, frame i -> frame i+1; C = 2, or 3
      with a confidence channel (then every step has one).
    x, y: [P] float start points in frame 0 (pixel centres at integers).

  Yields:
    after each step, [P, C] float32: displacement (dx, dy) px start -> frame
    i+1 (NaN where unknown) and, with C = 3, the product of the confidences
    read at each point of the chain so far.
  """
  start = np.stack([np.asarray(x, np.float64), np.asarray(y, np.float64)], -1)
  pos = start
  conf = np.ones(len(start), np.float64)
  for step in steps:
    sampled = sample_bilinear(step, pos[:, 0], pos[:, 1]).astype(np.float64)
    pos = pos + sampled[:, :2]
    disp = pos - start
    if sampled.shape[-1] == 3:
      conf = conf * sampled[:, 2]
      disp = np.concatenate([disp, conf[:, None]], -1)
    yield disp.astype(np.float32)


def window_flows(frames: np.ndarray, centre: int, n: int, method: str = DEFAULT_METHOD,
                 mode: str = DEFAULT_MODE, confidence: str = VALID_CONFIDENCE) -> np.ndarray:
  """Flows from the centre frame to every frame of the window [centre-n, centre+n].

  Args:
    frames: [T, H, W, 3] uint8 RGB video (or a clipped 2n+1 window of it).
    centre: index of the centre frame in ``frames``.
    n: half window; frames centre-n .. centre+n must exist (the caller
      clips windows at video bounds, e.g. by repeating edge frames; repeated
      frames get exactly zero flow).
    method: see ``flow_between``.
    mode: "direct" (``flow_between(centre, centre+k)``) or "composed" (chain
      of k consecutive flows with ``compose_flows``; NaN where a chain leaves
      the frame).
    confidence: one of ``CONFIDENCES``; "fb" adds the forward-backward
      confidence channel (direct: of each pair against its reverse flow;
      composed: the product along the chain of each step's against its
      reverse step).

  Returns:
    [2n+1, H, W, C] float32, C = 2 ("valid") or 3 ("fb"); entry i is the flow
    centre -> centre + i - n (zero, confidence 1, at i = n).
  """
  frames = np.asarray(frames)
  t_len = frames.shape[0]
  if mode not in MODES:
    raise ValueError(f"flow mode {mode!r} is unknown; choose one of {list(MODES)}")
  if confidence not in CONFIDENCES:
    raise ValueError(f"flow confidence {confidence!r} is unknown; choose one of {list(CONFIDENCES)}")
  if n < 0 or centre - n < 0 or centre + n >= t_len:
    raise ValueError(f"window [{centre - n}, {centre + n}] is outside the {t_len} frames given; "
                     f"clip the window (repeat edge frames) before calling window_flows")
  fb = confidence == FB_CONFIDENCE

  def pair(a: int, b: int) -> np.ndarray:
    flow = flow_between(frames[a], frames[b], method)
    return with_fb_confidence(flow, flow_between(frames[b], frames[a], method)) if fb else flow

  h, w = frames.shape[1:3]
  out = np.zeros((2 * n + 1, h, w, 3 if fb else 2), np.float32)
  if fb:
    out[n, ..., 2] = 1.0
  for sign in (1, -1):
    chain = None
    for k in range(1, n + 1):
      target = centre + sign * k
      if mode == "direct":
        flow = pair(centre, target)
      else:
        step = pair(target - sign, target)
        flow = step if chain is None else compose_flows(chain, step)
        chain = flow
      out[n + sign * k] = flow
  return out


def flow_config_key(method: str, mode: str, height: int, width: int, **extra) -> dict:
  """The settings that determine cached flow values (goes into ``FlowCache``)."""
  return dict(method=method, mode=mode, height=int(height), width=int(width),
              version=FLOW_CODE_VERSION, opencv=cv2.__version__, **extra)


class FlowCache:
  """On-disk cache of flows, one compressed ``.npz`` per (video, key).

  Files live under ``root/flow-<hash>/`` where ``<hash>`` is a digest of the
  flow config (method, mode, resolution, code and OpenCV versions; see
  ``flow_config_key``), written next to them as ``config.json``. A changed
  config therefore lands in a new directory and never reuses stale flow.
  Writes are atomic (temp file in the same directory + ``os.replace``), so a
  killed writer never leaves a half file.

  Args:
    root: cache root directory (created on first write).
    config_key: dict (JSON-serialisable) or string describing the flow config.
  """

  def __init__(self, root: str, config_key: dict | str):
    text = config_key if isinstance(config_key, str) else json.dumps(config_key, sort_keys=True)
    self.config_text = text
    self.digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    self.directory = os.path.join(os.fspath(root), f"flow-{self.digest}")

  def path(self, video_id: str, key: str) -> str:
    """File of (video_id, key); key e.g. ``window_key(centre, n)`` or "video"."""
    safe = str(video_id).replace(os.sep, "_")
    return os.path.join(self.directory, safe, f"{key}.npz")

  def load(self, video_id: str, key: str) -> np.ndarray | None:
    """The stored [...] float32 flow, or None if absent."""
    p = self.path(video_id, key)
    if not os.path.exists(p):
      return None
    with np.load(p) as data:
      return data["flow"]

  def save(self, video_id: str, key: str, flow: np.ndarray) -> str:
    """Atomically writes ``flow``; returns the file path."""
    p = self.path(video_id, key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    cfg = os.path.join(self.directory, "config.json")
    if not os.path.exists(cfg):
      fileio.write_text(cfg, self.config_text)
    with fileio.atomic_output(p) as tmp:
      np.savez_compressed(tmp, flow=np.asarray(flow, np.float32))
    return p

  def get_or_compute(self, video_id: str, key: str, compute) -> np.ndarray:
    """``load`` or, on a miss, ``compute()`` then ``save``."""
    flow = self.load(video_id, key)
    if flow is None:
      flow = np.asarray(compute(), np.float32)
      self.save(video_id, key, flow)
    return flow


def window_key(centre: int, n: int) -> str:
  """Cache key of the 2n+1 window around ``centre``."""
  return f"c{int(centre):06d}_n{int(n):02d}"
