"""Seeded synthetic "signer" videos with exact joints and exact optical flow.

An articulated upper body (torso with neck, head, two arms made of upper arm,
forearm and hand) moves smoothly in front of a static camera and a static,
cluttered background. Arm angles follow eased key-frame "gestures" plus small
sinusoidal wiggles, so hands often pass in front of the torso, cross each
other and reach the face; the torso sways, the head turns and nods a little.
Each video draws its own background, clothing colour and pattern, skin
colour, lighting drift, motion-blur exposure and (often) a foreground object
that crosses the frame and occludes part of the body.

``PHOTO`` (the builder's ``photo`` config) makes it closer to TV footage:
16:9 frames, smaller people anywhere in the width, up to two other people in
view (unlabelled, their own part ids), 1/f textures on walls and clothes,
uneven and often dim light, and a camera that pans and zooms; the camera's
motion is in every part's map, so the exact flow (background included) and
the joints follow it. ``PHOTO_CUTS`` (``photo_cuts``) also cuts between
shots: the camera jumps to another view of the same person (another
background and framing); the flow across a cut is NaN, where nothing
corresponds (``flowpose_jax.flow.shots`` finds such cuts in real video).

Every part is a sprite (premultiplied RGBA canvas, ``_SUPERSAMPLE`` canvas
pixels per image pixel) placed by a 2x3 affine map canvas -> image. A limb's
map sends the canvas axis onto the segment a -> b (stretching along the axis
only when the limb is foreshortened), so between frames t and t+1 every part
moves by the exact affine map ``M[t+1] @ inv(M[t])``; this also sends a -> a'
and b -> b'. The ground-truth flow is that map applied at each pixel of the
front-most part (the part-id map of frame t); background pixels have zero
flow. The flow of a video's last frame is all zeros (there is no next frame).

Conventions (as in ``flowpose_jax.heatmaps``): coordinates are (x, y) pixels,
0-based, with pixel centres at integers; joints are in BBC Pose order
(``flowpose_jax.joints.JOINT_NAMES``) and "right" is the person's right, which
for this camera-facing signer appears on the image's left at rest. A joint is
``visible`` iff it lies inside the frame (0 <= x <= W-1, 0 <= y <= H-1);
occlusion by another part or the foreground object does not hide it.

Pure numpy + OpenCV; all randomness comes from ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from flowpose_jax.errors import ConfigError

# Bump when render_video's output changes for any input (pixels, joints, flow,
# part ids, boxes): synthetic_signers' VERSION follows it, so data built by an
# older renderer is not reused. tests/data/test_synthetic.py pins a digest of
# one fixed video per version and fails, saying so, when they disagree.
RENDER_VERSION = 1

# Part ids of the part-id map ('part_ids'); 0 is the background.
BACKGROUND, TORSO, HEAD = 0, 1, 2
R_UPPER, R_FORE, R_HAND = 3, 4, 5
L_UPPER, L_FORE, L_HAND = 6, 7, 8
OCCLUDER = 9
NUM_PARTS = 10
# The arms' parts (upper arm, forearm, hand); index 0 is the person's right.
_ARMS: tuple[tuple[int, int, int], ...] = ((R_UPPER, R_FORE, R_HAND), (L_UPPER, L_FORE, L_HAND))

_SUPERSAMPLE = 2  # canvas pixels per image pixel (sprites are drawn finer).
_DRAW_SHIFT = 4  # fractional bits for cv2 drawing (sub-pixel polygons).
_TRACK_MARGIN_FRAMES = 2  # key-frame tracks cover [-2, T+2] for blur sub-frames.

# Body proportions in body units U (one head height): U = person_height / _BODY_UNITS_TALL,
# where person_height is the distance from the top of the head to the frame bottom.
_BODY_UNITS_TALL = 3.2
_HEAD_RX, _HEAD_RY = 0.38, 0.5
_NECK_LEN = 0.32  # neck base (shoulder line) to the bottom of the head.
_SHOULDER_HALF = 0.92
_UPPER_LEN, _FORE_LEN, _HAND_LEN = 1.2, 1.1, 0.5
_UPPER_R0, _UPPER_R1 = 0.24, 0.19  # limb half-thickness at its two ends.
_FORE_R0, _FORE_R1 = 0.18, 0.13
_TORSO_DEPTH = 3.6  # torso polygon length below the shoulder line (leaves the frame).
# Clothing styles: fraction of the (upper arm, forearm) axis covered by the sleeve.
_SLEEVES = ((1.0, 0.97), (1.0, 0.97), (1.0, 0.8), (0.6, 0.0))

# Gestures: (abduction rad, elbow flexion rad, upper-arm foreshortening, forearm
# foreshortening, wrist angle rad). Abduction > 0 moves the elbow away from the
# body; flexion folds the forearm inwards/upwards.
_GESTURES = np.array([
    (0.15, 1.3, 0.95, 0.95, 0.0),    # rest: hands at the belly
    (0.10, 2.0, 0.85, 0.90, 0.2),    # chest
    (-0.15, 1.95, 0.90, 0.95, 0.1),  # cross the midline
    (0.30, 2.9, 0.55, 0.90, -0.2),   # at the face
    (0.90, 2.3, 0.80, 0.90, 0.3),    # hand raised at the side
    (0.70, 1.0, 0.90, 0.90, 0.0),    # arm out
], np.float64)
_GESTURE_JITTER = np.array([0.15, 0.25, 0.08, 0.06, 0.3])
_GESTURE_LO = np.array([-0.35, 0.2, 0.45, 0.6, -0.8])
_GESTURE_HI = np.array([1.2, 3.05, 1.0, 1.0, 0.8])


@dataclasses.dataclass(frozen=True)
class RenderParams:
  """Knobs of the video generator (defaults give the standard data set).

  Lengths are in body units U (one head height) unless the name says px or
  a fraction; times are in frames.
  """
  person_height_range: tuple[float, float] = (0.6, 0.9)  # fraction of H, head top to bottom.
  centre_jitter: float = 0.06  # fraction of W, horizontal offset of the body.
  gesture_gap_frames: tuple[int, int] = (4, 14)  # between key-frame gestures.
  symmetric_gesture_prob: float = 0.3  # both arms take the same gesture.
  wiggle_rad: float = 0.06  # amplitude of sinusoidal arm wiggle.
  wiggle_freq: tuple[float, float] = (0.03, 0.12)  # cycles per frame.
  torso_shift: float = 0.15  # U, sway amplitude.
  torso_angle_rad: float = 0.05
  head_angle_rad: float = 0.15
  head_shift: float = 0.06  # U, nod/turn offset of the head.
  body_gap_frames: tuple[int, int] = (15, 40)  # key frames of torso/head motion.
  occluder_prob: float = 0.6  # videos with a foreground object.
  occluder_passes: tuple[int, int] = (1, 3)
  occluder_size: tuple[float, float] = (0.6, 1.2)  # U.
  occluder_pass_frames: tuple[int, int] = (10, 30)
  max_exposure_frames: float = 0.7  # motion-blur shutter, fraction of a frame.
  blur_subframes: int = 3
  lighting_gain: float = 0.25  # max relative global gain drift.
  lighting_colour: float = 0.08  # max relative per-channel drift.
  lighting_gap_frames: tuple[int, int] = (20, 60)
  pixel_noise: tuple[float, float] = (1.0, 3.0)  # std of additive noise, grey levels.
  background_shapes: tuple[int, int] = (15, 40)
  # Closer to real footage (``PHOTO``); the defaults switch each one off, and
  # a switched-off knob draws no random numbers, so the standard sets are
  # unchanged bit for bit.
  photo_texture: float = 0.0  # 0..1: weight of 1/f ("pink") noise in background and clothes.
  distractors: tuple[int, int] = (0, 0)  # unlabelled people in view (min, max).
  distractor_scale: tuple[float, float] = (0.55, 1.0)  # their body unit / the main person's.
  camera_pan: float = 0.0  # camera key-frame offsets, fraction of W (0 = static camera).
  camera_zoom: float = 0.0  # camera key-frame zoom, max |log scale|.
  camera_gap_frames: tuple[int, int] = (20, 50)
  scene_light: float = 0.0  # 0..1: strength of a directional light falloff and vignette.
  exposure: tuple[float, float] = (1.0, 1.0)  # global brightness factor (dark scenes < 1).
  # Shot cuts: at a cut the camera jumps to another view of the same person
  # (another background, framing panned by up to ``shot_pan`` x W and zoomed
  # in by up to exp(``shot_zoom``)); the flow of the frame before it is NaN.
  shot_cuts: tuple[int, int] = (0, 0)  # cuts per video (min, max).
  shot_min_frames: int = 8  # the shortest shot.
  shot_pan: float = 0.12
  shot_zoom: float = 0.4


# TV-like footage for pretraining before real frames: 16:9 frames (the
# builder's ``photo`` size), smaller people anywhere in the width, other people
# in view, photographic (1/f) textures, uneven light, often dark, and a moving
# camera (pan and zoom; its motion is in the exact flow, background included).
PHOTO = RenderParams(
    person_height_range=(0.38, 0.8), centre_jitter=0.28, occluder_prob=0.4,
    photo_texture=0.7, distractors=(0, 2), camera_pan=0.06, camera_zoom=0.08,
    scene_light=0.6, exposure=(0.35, 1.1), pixel_noise=(1.0, 5.0), max_exposure_frames=1.0)
# ``PHOTO`` edited like broadcast footage: up to two shot cuts per video.
PHOTO_CUTS = dataclasses.replace(PHOTO, shot_cuts=(0, 2))


# ---------------------------------------------------------------- tracks


def _ease_track(times: np.ndarray, key_t: np.ndarray, key_v: np.ndarray) -> np.ndarray:
  """Cosine-eased interpolation of key frames (zero velocity at each key).

  Args:
    times: [N] float frames.
    key_t: [K] increasing key times covering ``times``.
    key_v: [K, D] key values.

  Returns:
    [N, D] float64.
  """
  idx = np.clip(np.searchsorted(key_t, times, side="right") - 1, 0, len(key_t) - 2)
  t0, t1 = key_t[idx], key_t[idx + 1]
  s = np.clip((times - t0) / (t1 - t0), 0.0, 1.0)
  s = 0.5 - 0.5 * np.cos(np.pi * s)
  return key_v[idx] * (1 - s)[:, None] + key_v[idx + 1] * s[:, None]


def _key_times(rng: np.random.Generator, num_frames: int, gap: tuple[int, int]) -> np.ndarray:
  """[K] key times from before -_TRACK_MARGIN_FRAMES to after the last frame."""
  t = [-float(_TRACK_MARGIN_FRAMES) - rng.uniform(0, gap[1])]
  while t[-1] <= num_frames + _TRACK_MARGIN_FRAMES:
    t.append(t[-1] + rng.uniform(gap[0], gap[1]))
  return np.asarray(t)


@dataclasses.dataclass(frozen=True)
class _Motion:
  """Random trajectories of one video, evaluated at arbitrary times."""
  arm_keys: tuple  # (key_t [K], right [K,5], left [K,5])
  wiggle: np.ndarray  # [2 arms, 2 comps, 3 (amp, freq, phase)]
  torso_keys: tuple  # (key_t, [K, 3] dx, dy (U), angle)
  head_keys: tuple  # (key_t, [K, 3] dx, dy (U), angle)
  occluder: np.ndarray  # [P, 7] t0, t1, x0, y0, x1, y1, spin (rad/frame)
  light_keys: tuple  # (key_t, [K, 3] per-channel gains)


def _sample_motion(rng: np.random.Generator, num_frames: int, p: RenderParams,
                   height: int, width: int, unit: float) -> _Motion:
  key_t = _key_times(rng, num_frames, p.gesture_gap_frames)
  n_keys = len(key_t)
  arms = []
  first = None
  for side in range(2):
    g = rng.integers(0, len(_GESTURES), n_keys)
    if side == 1:
      same = rng.random(n_keys) < p.symmetric_gesture_prob
      g = np.where(same, first, g)
    first = g
    v = _GESTURES[g] + rng.uniform(-1, 1, (n_keys, 5)) * _GESTURE_JITTER
    arms.append(np.clip(v, _GESTURE_LO, _GESTURE_HI))
  lo, hi = p.wiggle_freq
  wiggle = np.stack([
      rng.uniform(0.3, 1.0, (2, 2)) * p.wiggle_rad,
      rng.uniform(lo, hi, (2, 2)),
      rng.uniform(0, 2 * np.pi, (2, 2))], -1)

  tk = _key_times(rng, num_frames, p.body_gap_frames)
  torso_v = rng.uniform(-1, 1, (len(tk), 3)) * np.array(
      [p.torso_shift, p.torso_shift / 3, p.torso_angle_rad])
  hk = _key_times(rng, num_frames, (p.body_gap_frames[0] // 2, p.body_gap_frames[1] // 2))
  head_v = rng.uniform(-1, 1, (len(hk), 3)) * np.array(
      [p.head_shift, p.head_shift, p.head_angle_rad])

  passes = []
  if rng.random() < p.occluder_prob:
    n_pass = rng.integers(p.occluder_passes[0], p.occluder_passes[1] + 1)
    for _ in range(n_pass):
      dur = rng.uniform(*p.occluder_pass_frames)
      t0 = rng.uniform(-dur / 2, num_frames - dur / 2)
      size = p.occluder_size[1] * unit
      # Enter from the left or right edge, leave through the other one.
      y0, y1 = rng.uniform(0.3, 1.0, 2) * height
      xa, xb = -size, width + size
      if rng.random() < 0.5:
        xa, xb = xb, xa
      passes.append((t0, t0 + dur, xa, y0, xb, y1, rng.uniform(-0.05, 0.05)))
  occ = np.asarray(passes, np.float64).reshape(-1, 7)

  lk = _key_times(rng, num_frames, p.lighting_gap_frames)
  light_v = 1.0 + rng.uniform(-1, 1, (len(lk), 1)) * p.lighting_gain
  light_v = light_v + rng.uniform(-1, 1, (len(lk), 3)) * p.lighting_colour
  return _Motion((key_t, arms[0], arms[1]), wiggle, (tk, torso_v), (hk, head_v), occ,
                 (lk, light_v))


# ---------------------------------------------------------------- sprites


@dataclasses.dataclass(frozen=True)
class _Sprite:
  rgba: np.ndarray  # [h, w, 4] float32, premultiplied colour 0..255, alpha 0..1.
  anchor: np.ndarray  # [2] canvas point mapped to the part's origin.
  length: float  # canvas length of the limb axis (limbs only; 0 otherwise).


def _canvas(h: float, w: float) -> tuple[np.ndarray, np.ndarray]:
  hh, ww = int(np.ceil(h)), int(np.ceil(w))
  return np.zeros((hh, ww, 3), np.float32), np.zeros((hh, ww), np.float32)


def _pts(xy) -> np.ndarray:
  return np.round(np.asarray(xy, np.float64) * (1 << _DRAW_SHIFT)).astype(np.int32)


def _poly(img, pts, colour):
  cv2.fillPoly(img, [_pts(pts)], colour, cv2.LINE_AA, _DRAW_SHIFT)


def _ellipse(img, centre, axes, angle_deg, colour, thickness=-1):
  c = tuple(int(v) for v in _pts(centre))
  a = tuple(int(v) for v in _pts(axes))
  cv2.ellipse(img, c, a, angle_deg, 0, 360, colour, thickness, cv2.LINE_AA, _DRAW_SHIFT)


def _pink_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
  """[h, w, 3] float32 1/f^a noise (a in [1.6, 2.4]: the power spectrum of
  natural images), zero mean and unit std per channel, its channels mostly
  shared (luminance) with some colour."""
  fy = np.fft.fftfreq(h)[:, None]
  fx = np.fft.rfftfreq(w)[None, :]
  f = np.sqrt(fx ** 2 + fy ** 2)
  f[0, 0] = 1.0
  amp = f ** -(rng.uniform(1.6, 2.4) / 2)  # amplitude ~ f^(-a/2): power ~ f^-a.
  amp[0, 0] = 0.0
  spec = (rng.normal(0, 1, (2, h, w // 2 + 1)) + 1j * rng.normal(0, 1, (2, h, w // 2 + 1))) * amp
  lum, col = np.fft.irfft2(spec, s=(h, w))
  tint = rng.normal(0, 0.35, 3)
  out = lum[..., None] + col[..., None] * tint[None, None, :]
  out = (out - out.mean((0, 1))) / np.maximum(out.std((0, 1)), 1e-6)
  return out.astype(np.float32)


def _pattern(rng: np.random.Generator, h: int, w: int, base: np.ndarray, scale: float,
             photo: float = 0.0) -> np.ndarray:
  """[h, w, 3] float32 clothing texture around colour ``base`` (0..255);
  ``photo`` > 0 adds that weight of 1/f texture (folds, weave, prints)."""
  yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
  kind = rng.integers(0, 4)
  second = np.clip(base + rng.uniform(-110, 110, 3), 0, 255)
  period = rng.uniform(0.25, 0.6) * scale
  ang = rng.uniform(0, np.pi)
  u = xx * np.cos(ang) + yy * np.sin(ang)
  v = -xx * np.sin(ang) + yy * np.cos(ang)
  if kind == 0:  # stripes
    m = (np.mod(u, period) < period * rng.uniform(0.3, 0.6)).astype(np.float32)
  elif kind == 1:  # checks
    m = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
  elif kind == 2:  # dots
    m = ((np.mod(u, period) - period / 2) ** 2 + (np.mod(v, period) - period / 2) ** 2
         < (period * 0.25) ** 2).astype(np.float32)
  else:  # plain with mottled noise
    m = np.zeros((h, w), np.float32)
  tex = base[None, None, :] * (1 - m[..., None]) + second[None, None, :] * m[..., None]
  small = rng.normal(0, 1, (max(2, h // 8), max(2, w // 8), 1)).astype(np.float32)
  mottle = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
  tex = tex + 12.0 * mottle.reshape(h, w, 1)
  if photo > 0:
    tex = tex * (1 + 0.2 * photo * _pink_noise(rng, h, w)[..., :1]) \
        + 10.0 * photo * _pink_noise(rng, h, w)
  return np.clip(tex, 0, 255).astype(np.float32)


def _finish(rgb: np.ndarray, alpha: np.ndarray, anchor, length=0.0) -> _Sprite:
  alpha = np.clip(alpha, 0, 1)
  rgba = np.concatenate([rgb * alpha[..., None], alpha[..., None]], -1)
  return _Sprite(np.ascontiguousarray(rgba, np.float32), np.asarray(anchor, np.float64), length)


def _limb_sprite(rng, length, r0, r1, cloth_tex_fn, skin, sleeve_frac, scale) -> _Sprite:
  """Tapered limb along canvas +x from (pad, cy) to (pad + length, cy); all canvas px."""
  pad = max(r0, r1) + 2
  h, w = 2 * pad, length + 2 * pad
  alpha = np.zeros((int(np.ceil(h)), int(np.ceil(w))), np.float32)
  cy = h / 2
  a, b = np.array([pad, cy]), np.array([pad + length, cy])
  outline = [(a[0], cy - r0), (b[0], cy - r1), (b[0], cy + r1), (a[0], cy + r0)]
  _poly(alpha, outline, 1.0)
  _ellipse(alpha, a, (r0, r0), 0, 1.0)
  _ellipse(alpha, b, (r1, r1), 0, 1.0)
  cloth = cloth_tex_fn(alpha.shape[0], alpha.shape[1])
  # Sleeve ends at sleeve_frac of the axis; skin beyond it, with a cuff line.
  x_cut = pad + sleeve_frac * length
  xs = np.arange(alpha.shape[1], dtype=np.float32)[None, :, None]
  rgb = np.where(xs < x_cut, cloth, skin[None, None, :]).astype(np.float32)
  if sleeve_frac < 1.0:
    cuff = (np.abs(xs - x_cut) < 0.04 * scale)
    rgb = np.where(cuff, cloth * 0.6, rgb).astype(np.float32)
  # Shade the edges for a rounded look.
  yy = np.abs(np.arange(alpha.shape[0], dtype=np.float32) - cy)[:, None, None]
  rgb = rgb * (1.0 - 0.35 * np.clip(yy / max(r0, r1), 0, 1) ** 2)
  alpha = cv2.GaussianBlur(alpha, (0, 0), 0.7)
  return _finish(rgb, alpha, a, length)


def _hand_sprite(rng, scale, skin) -> _Sprite:
  """Mitten-like hand along canvas +x from the wrist at (pad, cy)."""
  length = _HAND_LEN * scale
  pad = 0.3 * scale
  h, w = 2 * pad + 0.2 * scale, length + 2 * pad
  rgb, alpha = _canvas(h, w)
  cy = h / 2
  wx = pad
  dark = tuple(float(c) for c in skin * 0.75)
  for img, col in ((alpha, 1.0), (rgb, dark)):
    _ellipse(img, (wx + 0.45 * length, cy), (0.45 * length, 0.2 * scale), 0, col)
    _ellipse(img, (wx + 0.35 * length, cy - 0.17 * scale), (0.22 * length, 0.07 * scale), -35, col)
    _poly(img, [(wx, cy - 0.1 * scale), (wx + 0.3 * length, cy - 0.18 * scale),
                (wx + 0.3 * length, cy + 0.18 * scale), (wx, cy + 0.1 * scale)], col)
  inner = tuple(float(c) for c in skin)
  _ellipse(rgb, (wx + 0.45 * length, cy), (0.4 * length, 0.16 * scale), 0, inner)
  for k in (-1, 0, 1):  # finger lines
    y = cy + k * 0.06 * scale
    cv2.line(rgb, tuple(int(v) for v in _pts((wx + 0.6 * length, y))),
             tuple(int(v) for v in _pts((wx + 0.9 * length, y))), dark, 1, cv2.LINE_AA, _DRAW_SHIFT)
  alpha = cv2.GaussianBlur(alpha, (0, 0), 0.7)
  return _finish(rgb, alpha, (wx, cy))


def _head_sprite(rng, scale, skin) -> _Sprite:
  rx, ry = _HEAD_RX * scale, _HEAD_RY * scale
  pad = 0.25 * scale
  h, w = 2 * (ry + pad), 2 * (rx + pad)
  rgb, alpha = _canvas(h, w)
  c = np.array([w / 2, h / 2])
  hair = np.clip(rng.uniform(0, 90, 3) * rng.uniform(0.3, 1.5), 0, 255)
  hair_t = tuple(float(v) for v in hair)
  skin_t = tuple(float(v) for v in skin)
  dark = tuple(float(v) for v in skin * 0.55)
  for img, col in ((alpha, 1.0), (rgb, skin_t)):
    _ellipse(img, c, (rx, ry), 0, col)
    for s in (-1, 1):  # ears
      _ellipse(img, c + (s * rx, 0.05 * scale), (0.08 * scale, 0.13 * scale), 0, col)
  hair_len = rng.uniform(0.0, 0.5)
  _ellipse(alpha, c - (0, 0.12 * scale), (rx * 1.08, ry * 0.95), 0, 1.0)
  cv2.ellipse(rgb, tuple(int(v) for v in _pts(c - (0, 0.12 * scale))),
              tuple(int(v) for v in _pts((rx * 1.08, ry * 0.95))), 0, 180 - 30 * hair_len,
              360 + 30 * hair_len, hair_t, -1, cv2.LINE_AA, _DRAW_SHIFT)
  eye_y = c[1] + 0.02 * scale
  for s in (-1, 1):
    _ellipse(rgb, (c[0] + s * 0.15 * scale, eye_y), (0.06 * scale, 0.035 * scale), 0, (245., 245., 245.))
    _ellipse(rgb, (c[0] + s * 0.15 * scale, eye_y), (0.03 * scale, 0.03 * scale), 0, (30., 25., 20.))
    cv2.line(rgb, tuple(int(v) for v in _pts((c[0] + s * 0.08 * scale, eye_y - 0.08 * scale))),
             tuple(int(v) for v in _pts((c[0] + s * 0.24 * scale, eye_y - 0.09 * scale))),
             hair_t, max(1, int(0.03 * scale)), cv2.LINE_AA, _DRAW_SHIFT)
  _poly(rgb, [(c[0], eye_y + 0.04 * scale), (c[0] - 0.04 * scale, eye_y + 0.17 * scale),
              (c[0] + 0.03 * scale, eye_y + 0.17 * scale)], dark)
  _ellipse(rgb, (c[0], eye_y + 0.28 * scale), (0.1 * scale, 0.03 * scale), 0,
           (150., 60., 60.))
  alpha = cv2.GaussianBlur(alpha, (0, 0), 0.7)
  return _finish(rgb, alpha, c)


def _torso_sprite(rng, scale, skin, cloth_tex_fn) -> _Sprite:
  """Shirt and neck; anchor = neck base (mid-point of the shoulders)."""
  sw = _SHOULDER_HALF * scale
  pad = 0.2 * scale
  top = (_NECK_LEN + 0.3) * scale
  h, w = top + _TORSO_DEPTH * scale + pad, 2 * (sw + pad)
  o = np.array([w / 2, top])
  rgb, alpha = _canvas(h, w)
  neck_w = rng.uniform(0.14, 0.2) * scale
  neck = [(o[0] - neck_w, o[1] - top + 0.05 * scale), (o[0] + neck_w, o[1] - top + 0.05 * scale),
          (o[0] + neck_w, o[1] + 0.1 * scale), (o[0] - neck_w, o[1] + 0.1 * scale)]
  _poly(alpha, neck, 1.0)
  _poly(rgb, neck, tuple(float(v) for v in skin * 0.85))
  shirt = [(o[0] - 0.3 * scale, o[1] - 0.12 * scale), (o[0] + 0.3 * scale, o[1] - 0.12 * scale),
           (o[0] + sw * 0.98, o[1] - 0.02 * scale), (o[0] + sw * 1.05, o[1] + 0.25 * scale),
           (o[0] + sw * 0.85, o[1] + _TORSO_DEPTH * scale),
           (o[0] - sw * 0.85, o[1] + _TORSO_DEPTH * scale),
           (o[0] - sw * 1.05, o[1] + 0.25 * scale), (o[0] - sw * 0.98, o[1] - 0.02 * scale)]
  shirt_mask = np.zeros_like(alpha)
  _poly(shirt_mask, shirt, 1.0)
  vdepth = rng.uniform(0.05, 0.4) * scale
  collar = [(o[0] - 0.2 * scale, o[1] - 0.12 * scale), (o[0] + 0.2 * scale, o[1] - 0.12 * scale),
            (o[0], o[1] + vdepth)]
  _poly(shirt_mask, collar, 0.0)
  _poly(alpha, shirt, 1.0)
  tex = cloth_tex_fn(alpha.shape[0], alpha.shape[1])
  rgb = np.where(shirt_mask[..., None] > 0.5, tex, rgb).astype(np.float32)
  # A seam down the middle and darker flanks give the torso some structure.
  xs = np.abs(np.arange(alpha.shape[1], dtype=np.float32) - o[0])[None, :, None]
  rgb = rgb * (1.0 - 0.3 * np.clip(xs / sw, 0, 1) ** 3)
  alpha = cv2.GaussianBlur(alpha, (0, 0), 0.7)
  return _finish(rgb, alpha, o)


def _occluder_sprite(rng, size) -> _Sprite:
  pad = 2.0
  h, w = size * rng.uniform(0.6, 1.0) + 2 * pad, size + 2 * pad
  rgb, alpha = _canvas(h, w)
  base = rng.uniform(0, 255, 3)
  tex = _pattern(rng, alpha.shape[0], alpha.shape[1], base, size / 2)
  if rng.random() < 0.5:
    _ellipse(alpha, (w / 2, h / 2), (w / 2 - pad, h / 2 - pad), 0, 1.0)
  else:
    _poly(alpha, [(pad, pad), (w - pad, pad), (w - pad, h - pad), (pad, h - pad)], 1.0)
  alpha = cv2.GaussianBlur(alpha, (0, 0), 0.7)
  return _finish(tex, alpha, (w / 2, h / 2))


def _background(rng: np.random.Generator, height: int, width: int, p: RenderParams) -> np.ndarray:
  """[H, W, 3] float32 static clutter: gradient, shapes, lines, noise."""
  yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
  ang = rng.uniform(0, 2 * np.pi)
  g = (xx * np.cos(ang) + yy * np.sin(ang)) / max(height, width)
  g = (g - g.min()) / max(float(g.max() - g.min()), 1e-6)
  c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
  img = (c0 * (1 - g[..., None]) + c1 * g[..., None]).astype(np.float32)
  size = max(height, width)
  for _ in range(rng.integers(*p.background_shapes)):
    col = tuple(float(v) for v in rng.uniform(0, 255, 3))
    kind = rng.integers(0, 4)
    cx, cy = rng.uniform(-0.1, 1.1) * width, rng.uniform(-0.1, 1.1) * height
    r = rng.uniform(0.03, 0.25) * size
    if kind == 0:
      _poly(img, [(cx - r, cy - r * rng.uniform(0.3, 1)), (cx + r, cy - r * rng.uniform(0.3, 1)),
                  (cx + r, cy + r), (cx - r, cy + r)], col)
    elif kind == 1:
      _ellipse(img, (cx, cy), (r, r * rng.uniform(0.3, 1)), rng.uniform(0, 180), col)
    elif kind == 2:
      t = max(1, int(rng.uniform(0.003, 0.02) * size))
      x2, y2 = rng.uniform(0, width), rng.uniform(0, height)
      cv2.line(img, tuple(int(v) for v in _pts((cx, cy))), tuple(int(v) for v in _pts((x2, y2))),
               col, t, cv2.LINE_AA, _DRAW_SHIFT)
    else:
      n = rng.integers(3, 7)
      _poly(img, np.stack([cx + rng.uniform(-r, r, n), cy + rng.uniform(-r, r, n)], -1), col)
  small = rng.normal(0, 1, (max(2, height // 16), max(2, width // 16), 3)).astype(np.float32)
  img += rng.uniform(5, 25) * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
  img += rng.uniform(2, 8) * rng.normal(0, 1, img.shape).astype(np.float32)
  img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.2))
  return np.clip(img, 0, 255).astype(np.float32)


# ---------------------------------------------------------------- kinematics


def _rot(theta: np.ndarray) -> np.ndarray:
  """[N, 2, 2] rotation matrices (image coordinates, y down)."""
  c, s = np.cos(theta), np.sin(theta)
  return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def _rigid(sprite: _Sprite, origin: np.ndarray, theta: np.ndarray) -> np.ndarray:
  """[N, 2, 3] canvas -> image maps: rotate by theta, put the anchor at origin [N, 2]."""
  lin = _rot(theta) / _SUPERSAMPLE
  t = origin - lin @ sprite.anchor
  return np.concatenate([lin, t[..., None]], -1)


def _limb(sprite: _Sprite, a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """[N, 2, 3] maps sending the canvas axis (anchor -> anchor + length) onto a -> b [N, 2].

  Across the axis the scale is 1/_SUPERSAMPLE (thickness is kept); along it
  the limb stretches with |b - a|. The columns are (axis, normal) with the
  normal the axis turned +90 degrees, so the map never mirrors.
  """
  d = b - a
  u = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
  col0 = d / sprite.length
  col1 = np.stack([-u[..., 1], u[..., 0]], -1) / _SUPERSAMPLE
  lin = np.stack([col0, col1], -1)
  t = a - lin @ sprite.anchor
  return np.concatenate([lin, t[..., None]], -1)


def _pose(motion: _Motion, times: np.ndarray, layout: dict) -> dict:
  """Joint positions and part angles at ``times`` [N].

  Returns a dict of [N, ...] float64 arrays: 'neck' [N,2], 'torso_theta' [N],
  'head' [N,2], 'head_theta' [N], 'shoulder'/'elbow'/'wrist' [N,2,2]
  (index 0 = person's right), 'hand_theta' [N,2].
  """
  unit = layout["unit"]
  tk, tv = motion.torso_keys
  torso = _ease_track(times, tk, tv)
  neck = layout["neck0"] + torso[:, :2] * unit
  theta = torso[:, 2]
  rot = _rot(theta)
  hk, hv = motion.head_keys
  head_m = _ease_track(times, hk, hv)
  neck_top = neck + (rot @ np.array([0.0, -_NECK_LEN * unit]))
  head_theta = theta + head_m[:, 2]
  head = neck_top + (_rot(head_theta) @ np.array([0.0, -_HEAD_RY * unit * 0.95])) \
      + head_m[:, :2] * unit
  key_t, right, left = motion.arm_keys
  shoulders, elbows, wrists, hand_theta = [], [], [], []
  for side, keys in enumerate((right, left)):
    g = _ease_track(times, key_t, keys)
    w = motion.wiggle[side]
    wig = w[:, 0][None] * np.sin(2 * np.pi * w[:, 1][None] * times[:, None] + w[:, 2][None])
    abd, flex = g[:, 0] + wig[:, 0], g[:, 1] + wig[:, 1]
    # Person's right arm on the image's left: outward is -x for side 0.
    out = -1.0 if side == 0 else 1.0
    sh = neck + rot @ np.array([out * _SHOULDER_HALF * unit, 0.0])
    d1 = np.stack([out * np.sin(abd), np.cos(abd)], -1)
    d1 = (rot @ d1[..., None])[..., 0]
    el = sh + d1 * (_UPPER_LEN * unit * g[:, 2])[:, None]
    phi = abd - flex
    d2 = np.stack([out * np.sin(phi), np.cos(phi)], -1)
    d2 = (rot @ d2[..., None])[..., 0]
    wr = el + d2 * (_FORE_LEN * unit * g[:, 3])[:, None]
    shoulders.append(sh)
    elbows.append(el)
    wrists.append(wr)
    hand_theta.append(np.arctan2(d2[:, 1], d2[:, 0]) + out * g[:, 4])
  return dict(neck=neck, torso_theta=theta, head=head, head_theta=head_theta,
              shoulder=np.stack(shoulders, 1), elbow=np.stack(elbows, 1),
              wrist=np.stack(wrists, 1), hand_theta=np.stack(hand_theta, 1))


def _occluder_pos(motion: _Motion, times: np.ndarray, far: float) -> tuple[np.ndarray, np.ndarray]:
  """Occluder centre [N, 2] (far off-frame between passes) and angle [N]."""
  pos = np.full((len(times), 2), -far)
  ang = np.zeros(len(times))
  for t0, t1, xa, ya, xb, yb, spin in motion.occluder:
    s = (times - t0) / (t1 - t0)
    on = (s >= 0) & (s <= 1)
    pos[on] = np.stack([xa + (xb - xa) * s[on], ya + (yb - ya) * s[on]], -1)
    ang[on] = spin * (times[on] - t0)
  return pos, ang


def _part_maps(sprites: dict, motion: _Motion, times: np.ndarray, layout: dict) -> tuple:
  """Canvas -> image maps of every part, and joints, at ``times`` [N].

  Returns:
    maps: [N, NUM_PARTS, 2, 3] float64 (background row unused).
    joints: [N, 7, 2] float64 in BBC Pose order.
  """
  pose = _pose(motion, times, layout)
  n = len(times)
  maps = np.zeros((n, NUM_PARTS, 2, 3))
  maps[:, BACKGROUND, :, :2] = np.eye(2)
  maps[:, TORSO] = _rigid(sprites[TORSO], pose["neck"], pose["torso_theta"])
  maps[:, HEAD] = _rigid(sprites[HEAD], pose["head"], pose["head_theta"])
  for side, (up, fo, ha) in enumerate(_ARMS):
    sh, el, wr = pose["shoulder"][:, side], pose["elbow"][:, side], pose["wrist"][:, side]
    maps[:, up] = _limb(sprites[up], sh, el)
    maps[:, fo] = _limb(sprites[fo], el, wr)
    maps[:, ha] = _rigid(sprites[ha], wr, pose["hand_theta"][:, side])
  pos, ang = _occluder_pos(motion, times, layout["far"])
  maps[:, OCCLUDER] = _rigid(sprites[OCCLUDER], pos, ang)
  joints = np.stack([pose["head"], pose["wrist"][:, 0], pose["wrist"][:, 1],
                     pose["elbow"][:, 0], pose["elbow"][:, 1],
                     pose["shoulder"][:, 0], pose["shoulder"][:, 1]], 1)
  return maps, joints


# ---------------------------------------------------------------- rendering


def _compose(background, sprites, maps_t, order, height, width, want_ids):
  """One rendered instant: colour [H,W,3] float32 and optionally part ids / body mask.

  ``background`` is the frame itself ([H, W, 3], static camera) or a larger
  canvas placed by ``maps_t[BACKGROUND]`` (moving camera). The body mask
  covers the labelled person's parts (ids ``TORSO`` .. ``L_HAND``) only.
  """
  if background.shape[:2] == (height, width):
    img = background.copy()
  else:
    img = cv2.warpAffine(background, maps_t[BACKGROUND].astype(np.float32), (width, height),
                         flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
  ids = np.zeros((height, width), np.uint8) if want_ids else None
  body = np.zeros((height, width), bool) if want_ids else None
  for pid in order:
    warped = cv2.warpAffine(sprites[pid].rgba, maps_t[pid].astype(np.float32), (width, height),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=(0, 0, 0, 0))
    a = warped[..., 3:4]
    img = img * (1.0 - a) + warped[..., :3]
    if want_ids:
      front = a[..., 0] > 0.5
      ids[front] = pid
      if TORSO <= pid <= L_HAND:
        body |= warped[..., 3] > 0.5
  return img, ids, body


def _flow_from_maps(ids: np.ndarray, maps_t: np.ndarray, maps_next: np.ndarray) -> np.ndarray:
  """[H, W, 2] float32 forward flow: pixel of part p moves by maps_next[p] @ inv(maps_t[p]).

  maps_t, maps_next: [P, 2, 3]; the background's row is the identity for a
  static camera (zero flow) and the camera's motion otherwise.
  """
  h, w = ids.shape
  aff = np.zeros((len(maps_t), 2, 3))
  for pid in range(len(maps_t)):
    m0 = np.vstack([maps_t[pid], [0.0, 0.0, 1.0]])
    m1 = np.vstack([maps_next[pid], [0.0, 0.0, 1.0]])
    aff[pid] = (m1 @ np.linalg.inv(m0))[:2]
  a = aff[ids]  # [H, W, 2, 3]
  ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
  nx = a[..., 0, 0] * xs + a[..., 0, 1] * ys + a[..., 0, 2]
  ny = a[..., 1, 0] * xs + a[..., 1, 1] * ys + a[..., 1, 2]
  return np.stack([nx - xs, ny - ys], -1).astype(np.float32)


def _body_layout(rng: np.random.Generator, height: int, width: int, p: RenderParams) -> dict:
  """The person's size and rest position: unit U (px), neck [2] px, a far-off-frame distance."""
  person_h = rng.uniform(*p.person_height_range) * height
  unit = person_h / _BODY_UNITS_TALL
  head_top = height - person_h
  neck_y = head_top + (2 * _HEAD_RY + _NECK_LEN) * unit
  neck_x = width / 2 + rng.uniform(-1, 1) * p.centre_jitter * width
  return dict(unit=unit, neck0=np.array([neck_x, neck_y]), far=10.0 * max(height, width))


def _body_sprites(rng: np.random.Generator, unit: float, p: RenderParams) -> dict[int, _Sprite]:
  """Every part's sprite (part id -> ``_Sprite``): skin, clothing pattern and sleeves drawn here."""
  scale = unit * _SUPERSAMPLE  # canvas pixels per body unit.
  skin = np.array([rng.uniform(60, 255)] * 3) * np.array([1.0, rng.uniform(0.7, 0.85), rng.uniform(0.5, 0.75)])
  cloth_base = rng.uniform(0, 255, 3)
  pattern_seed = int(rng.integers(0, 2**31))
  cloth_fn = lambda h, w: _pattern(np.random.default_rng(pattern_seed), h, w, cloth_base, scale,
                                    p.photo_texture)
  sleeve_up, sleeve_fore = _SLEEVES[rng.integers(0, len(_SLEEVES))]
  sprites = {
      TORSO: _torso_sprite(rng, scale, skin, cloth_fn),
      HEAD: _head_sprite(rng, scale, skin),
      OCCLUDER: _occluder_sprite(rng, rng.uniform(*p.occluder_size) * scale),
  }
  for up, fo, ha in _ARMS:
    sprites[up] = _limb_sprite(rng, _UPPER_LEN * scale, _UPPER_R0 * scale, _UPPER_R1 * scale,
                               cloth_fn, skin, sleeve_up, scale)
    sprites[fo] = _limb_sprite(rng, _FORE_LEN * scale, _FORE_R0 * scale, _FORE_R1 * scale,
                               cloth_fn, skin, sleeve_fore, scale)
    sprites[ha] = _hand_sprite(rng, scale, skin)
  return sprites


def _exposure_offsets(exposure: float, p: RenderParams) -> np.ndarray:
  """[n_sub] sub-frame times (frames) about each frame's instant: the motion-blur shutter."""
  if exposure > 0 and p.blur_subframes > 1:
    return np.linspace(-0.5, 0.5, p.blur_subframes) * exposure
  return np.zeros(1)


# The labelled person's body parts; a distractor's part ids follow NUM_PARTS, 8 a person.
_BODY_PARTS = tuple(range(TORSO, L_HAND + 1))


@dataclasses.dataclass(frozen=True)
class _Scene:
  """Everything that moves in one video; ``_scene_maps`` evaluates it at any time."""
  people: tuple  # ((sprites, motion, layout), ...); people[0] is the labelled person.
  camera: tuple | None  # (key_t [K], [K, 3] dx px, dy px, log zoom) or None (static).
  margin: int  # background canvas border beyond the frame, px (0 for a static camera).
  centre: np.ndarray  # [2] the zoom's fixed point, px.
  # (first frames of shots 1.. [C] int, per-shot framing [C+1, 3] dx px, dy px, log zoom) or None.
  shots: tuple | None = None

  @property
  def sprites(self) -> dict[int, _Sprite]:
    """Global part id -> sprite: the labelled person's ids, then each distractor's 8 parts."""
    out = dict(self.people[0][0])
    for k, (sprites, _, _) in enumerate(self.people[1:]):
      out.update({_distractor_id(k, pid): sprites[pid] for pid in _BODY_PARTS})
    return out


def _distractor_id(k: int, pid: int) -> int:
  """Global part id of body part ``pid`` of distractor ``k`` (0-based)."""
  return NUM_PARTS + len(_BODY_PARTS) * k + pid - TORSO


def _scene_maps(scene: _Scene, times: np.ndarray, frames: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
  """Canvas -> frame maps of every part and the labelled joints at ``times`` [N].

  ``frames`` [N] int: the frame each time belongs to, which picks its shot
  (``_Scene.shots``; default: the times' floor). Motion blur never crosses a cut.

  Returns:
    maps: [N, P, 2, 3] float64, P = NUM_PARTS + 8 x distractors; row
      BACKGROUND places the background canvas.
    joints: [N, 7, 2] float64, the labelled person's, in BBC Pose order.
  """
  maps, joints = _part_maps(scene.people[0][0], scene.people[0][1], times, scene.people[0][2])
  extra = [_part_maps(sp, mo, times, la)[0][:, TORSO:L_HAND + 1] for sp, mo, la in scene.people[1:]]
  maps = np.concatenate([maps, *extra], 1)
  maps[:, BACKGROUND, :, 2] = -scene.margin
  v = None
  if scene.camera is not None:
    key_t, key_v = scene.camera
    v = _ease_track(times, key_t, key_v)
  if scene.shots is not None:
    starts, framing = scene.shots
    frames = np.floor(times).astype(np.int64) if frames is None else np.asarray(frames)
    shot = framing[np.searchsorted(starts, frames, side="right")]
    v = shot if v is None else v + shot
  if v is not None:
    zoom = np.exp(v[:, 2])
    cam = np.zeros((len(times), 3, 3))
    cam[:, 0, 0] = cam[:, 1, 1] = zoom
    cam[:, :2, 2] = (1 - zoom)[:, None] * scene.centre + v[:, :2]
    cam[:, 2, 2] = 1.0
    full = np.concatenate([maps, np.broadcast_to([0.0, 0.0, 1.0], maps.shape[:2] + (1, 3))], -2)
    maps = (cam[:, None] @ full)[..., :2, :]
    joints = joints * zoom[:, None, None] + cam[:, None, :2, 2]
  return maps, joints


def _camera_margin(p: RenderParams, height: int, width: int) -> int:
  """Background border (px) that a camera with these knobs can bring into view
  (a shot's zoom is a zoom in, so only its pan adds to it)."""
  pan = p.camera_pan + (p.shot_pan if p.shot_cuts[1] > 0 else 0.0)
  if pan <= 0 and p.camera_zoom <= 0:
    return 0
  return int(np.ceil(pan * width + (np.exp(p.camera_zoom) - 1) * max(height, width) / 2)) + 4


def _shot_starts(rng: np.random.Generator, num_frames: int, p: RenderParams) -> np.ndarray:
  """[C] int increasing first frames of shots 1..C: every shot >= ``shot_min_frames`` long
  (fewer cuts than drawn when the video is too short for them)."""
  lo, hi = p.shot_cuts
  m = max(1, p.shot_min_frames)
  n = min(int(rng.integers(lo, hi + 1)), num_frames // m - 1)
  if n <= 0:
    return np.zeros(0, np.int64)
  # Stars and bars: n+1 shots of m frames each, the spare frames spread at random.
  spare = num_frames - (n + 1) * m
  cuts = np.sort(rng.integers(0, spare + 1, n))
  return (cuts + m * np.arange(1, n + 1)).astype(np.int64)


def _photo_background(rng: np.random.Generator, background: np.ndarray, weight: float) -> np.ndarray:
  """[H, W, 3] float32: ``background`` muted towards warm interior light, with 1/f
  texture of this weight (plaster, wood, fabric)."""
  h, w = background.shape[:2]
  lum = background.mean(-1, keepdims=True)
  muted = lum + rng.uniform(0.2, 0.7) * (background - lum)
  warm = np.array([1.0, rng.uniform(0.8, 0.97), rng.uniform(0.6, 0.9)], np.float32)
  tex = _pink_noise(rng, h, w)
  out = muted * warm * (1 + 0.25 * weight * tex[..., :1]) + 15.0 * weight * tex
  return np.clip(out, 0, 255).astype(np.float32)


def _distractor(rng: np.random.Generator, main: dict, num_frames: int, p: RenderParams,
                height: int, width: int) -> tuple:
  """(sprites, motion, layout) of an unlabelled person beside the labelled one."""
  unit = main["unit"] * rng.uniform(*p.distractor_scale)
  side = 1.0 if rng.random() < 0.5 else -1.0
  gap = rng.uniform(1.8, 3.5) * (main["unit"] + unit)
  x = main["neck0"][0] + side * gap
  if not -0.05 * width <= x <= 1.05 * width:
    x = main["neck0"][0] - side * gap
  # The torso reaches 4.9 U below the head top, so it still leaves the frame.
  head_top = height - _BODY_UNITS_TALL * unit * rng.uniform(0.85, 1.15)
  layout = dict(unit=unit, neck0=np.array([x, head_top + (2 * _HEAD_RY + _NECK_LEN) * unit]),
                far=main["far"])
  sprites = _body_sprites(rng, unit, p)
  motion = _sample_motion(rng, num_frames, p, height, width, unit)
  return sprites, motion, layout


def _light_field(rng: np.random.Generator, height: int, width: int, strength: float) -> np.ndarray:
  """[H, W, 1] float32 gain: light falling off across the frame, a soft pool of light, vignette."""
  size = max(height, width)
  yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
  x, y = (2 * xx - width) / size, (2 * yy - height) / size
  ang = rng.uniform(0, 2 * np.pi)
  field = 1.0 + 0.5 * strength * (x * np.cos(ang) + y * np.sin(ang))
  cx, cy = rng.uniform(-0.8, 0.8, 2)
  r = rng.uniform(0.3, 0.8)
  field *= 1.0 - 0.5 * strength + 0.5 * strength * 2 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
  field *= 1.0 - 0.35 * strength * (x * x + y * y)
  return np.clip(field, 0.15, 1.8)[..., None].astype(np.float32)


def _render_frames(rng, background, scene: _Scene, order, offsets, noise_std: float, light_keys,
                   field, num_frames: int, height: int, width: int) -> dict[str, np.ndarray]:
  """Draws every frame (blurred over ``offsets``, lit, noisy) with its part ids, flow and box.

  ``field`` is None or an [H, W, 1] gain applied to every frame; ``background``
  one canvas, or a list of one per shot (``scene.shots``).

  Returns:
    dict of 'image', 'joints' (float64, not yet cast), 'flow', 'part_ids',
    'box' as documented in ``render_video``.
  """
  sprites = scene.sprites
  n_sub = len(offsets)
  frames = np.arange(num_frames, dtype=np.float64)
  sub_times = (frames[:, None] + offsets[None, :]).reshape(-1)
  sub_maps, _ = _scene_maps(scene, sub_times, np.repeat(np.arange(num_frames), n_sub))
  sub_maps = sub_maps.reshape(num_frames, n_sub, *sub_maps.shape[1:])
  # Exact-time maps for labels and flow (t and t+1).
  maps, joints = _scene_maps(scene, np.arange(num_frames + 1, dtype=np.float64))
  starts = scene.shots[0] if scene.shots is not None else np.zeros(0, np.int64)
  shot = np.searchsorted(starts, np.arange(num_frames), side="right")
  backgrounds = background if isinstance(background, list) else [background]
  lk, lv = light_keys
  light = _ease_track(frames, lk, lv).astype(np.float32)  # [T, 3]

  images = np.empty((num_frames, height, width, 3), np.uint8)
  flows = np.zeros((num_frames, height, width, 2), np.float32)
  part_ids = np.empty((num_frames, height, width), np.uint8)
  boxes = np.zeros((num_frames, 4), np.float32)
  for t in range(num_frames):
    acc = np.zeros((height, width, 3), np.float32)
    bg = backgrounds[shot[t]]
    for k in range(n_sub):
      acc += _compose(bg, sprites, sub_maps[t, k], order, height, width, False)[0]
    _, ids, body = _compose(bg, sprites, maps[t], order, height, width, True)
    img = acc / n_sub * light[t][None, None, :]
    if field is not None:
      img = img * field
    img += rng.normal(0, noise_std, img.shape).astype(np.float32)
    images[t] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    part_ids[t] = ids
    if t + 1 < num_frames:
      # Across a cut nothing corresponds: the flow is unknown (NaN).
      flows[t] = _flow_from_maps(ids, maps[t], maps[t + 1]) if shot[t + 1] == shot[t] else np.nan
    rows, cols = np.flatnonzero(body.any(1)), np.flatnonzero(body.any(0))
    if rows.size:
      boxes[t] = (cols[0], rows[0], cols[-1], rows[-1])
  return dict(image=images, joints=joints[:num_frames], flow=flows, part_ids=part_ids, box=boxes)


def _check_render_args(num_frames: int, height: int, width: int, p: RenderParams) -> None:
  """One ConfigError line for a video ``render_video`` cannot make."""
  if num_frames < 1 or height < 16 or width < 16:
    raise ConfigError(f"render_video needs num_frames >= 1 and H, W >= 16; got "
                      f"T={num_frames}, H={height}, W={width}")
  if p.shot_cuts[0] < 0 or p.shot_cuts[1] < p.shot_cuts[0] or p.shot_min_frames < 1:
    raise ConfigError(f"RenderParams.shot_cuts must be (min, max) with 0 <= min <= max and "
                      f"shot_min_frames >= 1; got shot_cuts={p.shot_cuts}, shot_min_frames={p.shot_min_frames}")
  if p.distractors[0] < 0 or p.distractors[1] < p.distractors[0] or \
      NUM_PARTS + len(_BODY_PARTS) * p.distractors[1] > 256:
    raise ConfigError(f"RenderParams.distractors must be (min, max) with 0 <= min <= max <= 30; "
                      f"got {p.distractors}")


def _shots(rng: np.random.Generator, num_frames: int, height: int, width: int, margin: int,
           background: np.ndarray, p: RenderParams) -> tuple[tuple, list[np.ndarray]]:
  """Shot cuts of one video: ((first frame of each later shot [K], framing [K + 1, 3] pan x, pan y,
  zoom per shot), a background per shot, the first one ``background``)."""
  starts = _shot_starts(rng, num_frames, p)
  framing = rng.uniform(-1, 1, (len(starts) + 1, 3)) * np.array(
      [p.shot_pan * width, p.shot_pan * height / 2, 0.0])
  framing[:, 2] = rng.uniform(0, p.shot_zoom, len(starts) + 1)
  framing[0] = 0.0  # the first shot frames the person as the layout placed them
  backgrounds = [background]
  for _ in starts:
    other = _background(rng, height + 2 * margin, width + 2 * margin, p)
    backgrounds.append(_photo_background(rng, other, p.photo_texture) if p.photo_texture > 0 else other)
  return (starts, framing), backgrounds


def render_video(seed: int, num_frames: int, height: int, width: int,
                 params: RenderParams = RenderParams()) -> dict[str, np.ndarray]:
  """Renders one deterministic signer video.

  Args:
    seed: any non-negative int; the same seed gives bit-identical output
      (for one ``RENDER_VERSION``).
    num_frames: T >= 1.
    height, width: frame size H, W in pixels (need not be square).
    params: generator knobs (``PHOTO``: TV-like footage).

  Returns:
    dict of stacked arrays:
      'image': [T, H, W, 3] uint8 RGB.
      'joints': [T, 7, 2] float32 true joints of the labelled person, (x, y)
        px, BBC Pose order.
      'visible': [T, 7] bool, joint inside the frame.
      'box': [T, 4] float32 x0, y0, x1, y1: the extreme pixel centres covered
        by the labelled person's body parts (occluder and other people
        excluded), inside the frame.
      'flow': [T, H, W, 2] float32 exact forward flow t -> t+1 (dx, dy) px,
        the camera's motion included; the last frame's flow is all zeros,
        and the flow of the last frame of a shot (``shot_cuts``) all NaN.
      'part_ids': [T, H, W] uint8 front-most part per pixel (``BACKGROUND`` 0,
        ``TORSO`` .. ``L_HAND`` 1-8, ``OCCLUDER`` 9, then 8 ids per other
        person in view: ``_distractor_id``).
  """
  _check_render_args(num_frames, height, width, params)
  p = params
  rng = np.random.default_rng(seed)
  layout = _body_layout(rng, height, width, p)
  sprites = _body_sprites(rng, layout["unit"], p)
  margin = _camera_margin(p, height, width)
  background = _background(rng, height + 2 * margin, width + 2 * margin, p)
  motion = _sample_motion(rng, num_frames, p, height, width, layout["unit"])
  front_arm = rng.integers(0, 2)
  order = [TORSO, HEAD, *_ARMS[1 - front_arm], *_ARMS[front_arm]]
  offsets = _exposure_offsets(rng.uniform(0, p.max_exposure_frames), p)
  noise_std = rng.uniform(*p.pixel_noise)
  # The knobs closer to real footage draw after everything else, and only when on.
  if p.photo_texture > 0:
    background = _photo_background(rng, background, p.photo_texture)
  people = [(sprites, motion, layout)]
  behind, front = [], []
  for k in range(rng.integers(p.distractors[0], p.distractors[1] + 1) if p.distractors[1] else 0):
    people.append(_distractor(rng, layout, num_frames, p, height, width))
    arm = rng.integers(0, 2)
    ids = [_distractor_id(k, pid) for pid in (TORSO, HEAD, *_ARMS[1 - arm], *_ARMS[arm])]
    (behind if rng.random() < 0.75 else front).extend(ids)
  order = behind + order + front + [OCCLUDER]
  camera = None
  if p.camera_pan > 0 or p.camera_zoom > 0:
    key_t = _key_times(rng, num_frames, p.camera_gap_frames)
    key_v = rng.uniform(-1, 1, (len(key_t), 3)) * np.array(
        [p.camera_pan * width, p.camera_pan * width, p.camera_zoom])
    camera = (key_t, key_v)
  field = _light_field(rng, height, width, p.scene_light) if p.scene_light > 0 else None
  if p.exposure != (1.0, 1.0):
    gain = np.float32(rng.uniform(*p.exposure))
    field = gain * (field if field is not None else np.ones((height, width, 1), np.float32))
  shots = None
  if p.shot_cuts[1] > 0:
    shots, background = _shots(rng, num_frames, height, width, margin, background, p)
  scene = _Scene(tuple(people), camera, margin, np.array([(width - 1) / 2, (height - 1) / 2]), shots)
  video = _render_frames(rng, background, scene, order, offsets, noise_std, motion.light_keys,
                         field, num_frames, height, width)
  joints = video["joints"].astype(np.float32)
  visible = ((joints[..., 0] >= 0) & (joints[..., 0] <= width - 1)
             & (joints[..., 1] >= 0) & (joints[..., 1] <= height - 1))
  return dict(video, joints=joints, visible=visible)
