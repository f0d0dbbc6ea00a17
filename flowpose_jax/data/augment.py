"""Host-side augmentation: one affine per example, flip with left/right swap.

Everything here is pure numpy/OpenCV on single examples (no batch axis) and
draws randomness only from the ``np.random.Generator`` it is given, so grain's
per-element seeded generators make the pipeline reproducible.

Coordinates follow ``flowpose_jax.heatmaps``: (x, y), 0-based, pixel centres at
integers. An affine is a [2, 3] matrix ``m`` mapping a point ``p`` to
``m[:, :2] @ p + m[:, 2]``; ``compose_affine(a, b)`` is "b, then a".

A sample's geometry is ``frame -> input = augmentation ∘ letterbox``:
``frame_to_input_matrix`` letterboxes the frame (or the person box) into the
S×S network input, and ``sample_affine`` draws scale, rotation (both about the
input centre), translation and a horizontal flip ``x' = (S - 1) - x`` as a
single input-space affine. ``warp_example`` then resamples the frame once.
"""

from __future__ import annotations

import cv2
import numpy as np

from flowpose_jax import heatmaps
from flowpose_jax.errors import ConfigError, InputError
from flowpose_jax.joints import FLIP_INDEX, joints_box, mask_missing

FLIP_PROBABILITY = 0.5  # horizontal flip rate when augment.flip (release: p = 0.5)
CROP_MODES = ("frame", "box", "joints")
BLUR_PROBABILITY = 0.5  # share of examples blurred when augment.blur > 0
OCCLUSION_AREA = (0.02, 0.15)  # occluder area, fraction of the input, when augment.occlusion > 0
# ITU-R BT.601 luma weights for RGB, used to desaturate in colour jitter.
_LUMA_RGB = np.array([0.299, 0.587, 0.114], np.float32)
_UINT8_MAX = 255.0


def identity_affine() -> np.ndarray:
  """[2, 3] float32 identity."""
  return np.array([[1, 0, 0], [0, 1, 0]], np.float32)


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
  """``outer ∘ inner``: apply ``inner`` first, then ``outer``.

  Args:
    outer: [2, 3] affine.
    inner: [2, 3] affine.

  Returns:
    [2, 3] float32 affine.
  """
  outer = np.asarray(outer, np.float64)
  inner = np.asarray(inner, np.float64)
  lin = outer[:, :2] @ inner[:, :2]
  t = outer[:, :2] @ inner[:, 2] + outer[:, 2]
  return np.concatenate([lin, t[:, None]], 1).astype(np.float32)


def flip_affine(size: int) -> np.ndarray:
  """[2, 3] horizontal mirror of an S×S input, ``x' = (S - 1) - x`` (pixel centres)."""
  return np.array([[-1, 0, size - 1], [0, 1, 0]], np.float32)


def is_mirrored(matrix: np.ndarray) -> bool:
  """Whether a [2, 3] affine reverses orientation (negative determinant)."""
  m = np.asarray(matrix, np.float64)
  return bool(np.linalg.det(m[:, :2]) < 0)


def frame_to_input_matrix(frame_hw: tuple[int, int], box: np.ndarray | None, input_cfg,
                          joints: np.ndarray | None = None, visible: np.ndarray | None = None
                          ) -> np.ndarray:
  """Letterbox affine from frame pixels to the S×S network input.

  ``input_cfg.crop`` chooses the region:
    "frame": the whole frame;
    "box": the record's person ``box``, grown by ``input_cfg.box_margin`` × its
      width (height) on the left and right (top and bottom);
    "joints": the box of the present ``joints`` grown by
      ``input_cfg.joints_margin`` × its larger side on each side
      (``flowpose_jax.joints.joints_box``; the whole frame when fewer than two
      joints are present). Two-pass inference crops its second pass with the
      same rule from the first pass's joints.

  Args:
    frame_hw: (H, W) of the frame.
    box: [4] (x0, y0, x1, y1) person box in frame px, or None ("box" only).
    input_cfg: the config's ``input`` section (``size``, ``crop``, margins).
    joints, visible: [J, 2] frame px and [J] bool ("joints" only).

  Returns:
    [2, 3] float32 frame -> input matrix (``heatmaps.letterbox_matrix``).
  """
  crop = input_cfg.crop
  if crop == "frame":
    return heatmaps.letterbox_matrix(frame_hw, None, input_cfg.size)
  if crop == "joints":
    if joints is None:
      raise InputError("config.input.crop='joints' needs the record's joints")
    return heatmaps.letterbox_matrix(
        frame_hw, joints_box(joints, visible, margin=input_cfg.joints_margin), input_cfg.size)
  if crop != "box":
    raise ConfigError(f"config.input.crop={crop!r} is not one of {CROP_MODES}")
  if box is None:
    raise InputError("config.input.crop='box' but the record has no 'box': "
                     "set config.input.crop='frame' (or 'joints') or use a dataset with person boxes")
  box = np.asarray(box, np.float64)
  if box.shape != (4,) or not np.all(np.isfinite(box)):
    raise InputError(f"record 'box' must be 4 finite numbers (x0, y0, x1, y1), got {box.tolist()}")
  x0, y0, x1, y1 = box
  mx = input_cfg.box_margin * (x1 - x0 + 1.0)
  my = input_cfg.box_margin * (y1 - y0 + 1.0)
  grown = np.array([x0 - mx, y0 - my, x1 + mx, y1 + my], np.float32)
  return heatmaps.letterbox_matrix(frame_hw, grown, input_cfg.size)


def sample_affine(rng: np.random.Generator, aug_cfg, size: int) -> tuple[np.ndarray, bool]:
  """Draws one random input-space augmentation.

  ``x -> F(c + t + s R(θ) (x - c))`` with ``c = (S - 1)/2`` the input centre,
  ``s ~ U(aug_cfg.scale)``, ``θ ~ U(±aug_cfg.rotation)`` degrees,
  ``t ~ U(±aug_cfg.translate · S)`` px per axis and ``F`` the mirror
  ``x' = (S - 1) - x`` with probability ``FLIP_PROBABILITY`` when
  ``aug_cfg.flip``. All draws happen whatever the settings, so the generator's
  stream does not depend on which augmentations are on.

  Args:
    rng: generator (grain's per-element one).
    aug_cfg: the config's ``augment`` section.
    size: S, the input side in px.

  Returns:
    matrix [2, 3] float32 input -> input (includes the flip), and whether it
    flips (the caller must then swap left/right joints; ``warp_example`` does).
  """
  lo, hi = aug_cfg.scale
  scale = rng.uniform(lo, hi)
  angle = np.deg2rad(rng.uniform(-aug_cfg.rotation, aug_cfg.rotation))
  shift = rng.uniform(-aug_cfg.translate, aug_cfg.translate, size=2) * size
  flip = bool(rng.uniform() < FLIP_PROBABILITY) and bool(aug_cfg.flip)
  if not aug_cfg.enabled:
    return identity_affine(), False
  c = (size - 1) / 2
  cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
  lin = np.array([[cos, -sin], [sin, cos]])
  t = np.array([c, c]) + shift - lin @ np.array([c, c])
  matrix = np.concatenate([lin, t[:, None]], 1).astype(np.float32)
  if flip:
    matrix = compose_affine(flip_affine(size), matrix)
  return matrix, flip


def warp_example(image: np.ndarray, joints: np.ndarray, visible: np.ndarray, matrix: np.ndarray,
                 flip: bool, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Resamples a frame into the network input with one ``cv2.warpAffine``.

  Args:
    image: [H, W, 3] uint8 frame.
    joints: [J, 2] float (x, y) frame px; missing joints
      (``flowpose_jax.joints.joints_present``) allowed.
    visible: [J] bool.
    matrix: [2, 3] frame -> input affine, including the mirror when ``flip``.
    flip: whether ``matrix`` mirrors; then joint k of the output is joint
      ``FLIP_INDEX[k]`` of the input (the person's right becomes left).
    size: S, the output side in px.

  Returns:
    image [S, S, 3] uint8 (bilinear, zero outside the frame); joints [J, 2]
    float32 input px (NaN where missing); visible [J] bool (annotated; joints
    may still lie outside the input).
  """
  if flip != is_mirrored(matrix):
    raise ValueError(f"flip={flip} but the matrix {'does' if is_mirrored(matrix) else 'does not'} "
                     f"mirror: pass the matrix from sample_affine with its flip flag")
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
    raise InputError(f"image must be [H, W, 3] uint8, got {image.shape} {image.dtype}")
  out = cv2.warpAffine(image, np.asarray(matrix, np.float64), (size, size), flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
  joints, present = mask_missing(joints, visible)
  warped = heatmaps.apply_affine(joints, matrix)  # NaN stays NaN
  if flip:
    warped, present = warped[list(FLIP_INDEX)], present[list(FLIP_INDEX)]
  return out, warped.astype(np.float32), present


def colour_jitter(image: np.ndarray, rng: np.random.Generator, aug_cfg) -> np.ndarray:
  """Random brightness, contrast and saturation (in that order).

  Each factor is ``U(1 - k, 1 + k)`` for its strength ``k`` in ``aug_cfg``
  (``brightness``, ``contrast``, ``saturation``; 0 disables). Brightness scales
  the pixel values, contrast blends with the image's mean grey, saturation with
  the per-pixel grey. All three factors are always drawn.

  Args:
    image: [H, W, 3] uint8 RGB.
    rng: generator.
    aug_cfg: the config's ``augment`` section.

  Returns:
    [H, W, 3] uint8, a new array.
  """
  strengths = np.array([aug_cfg.brightness, aug_cfg.contrast, aug_cfg.saturation], np.float64)
  factors = 1.0 + rng.uniform(-1.0, 1.0, size=3) * strengths
  brightness, contrast, saturation = factors.astype(np.float32)
  x = np.asarray(image, np.float32) * brightness
  grey = x @ _LUMA_RGB  # [H, W]
  x = (x - grey.mean()) * contrast + grey.mean()
  grey = x @ _LUMA_RGB
  x = (x - grey[..., None]) * saturation + grey[..., None]
  return np.clip(np.rint(x), 0, _UINT8_MAX).astype(np.uint8)


def degrade(image: np.ndarray, rng: np.random.Generator, aug_cfg) -> np.ndarray:
  """Blur and occlusion, the degradations of real footage (after colour jitter).

  Blur: with probability ``BLUR_PROBABILITY``, a Gaussian of sigma
  ``U(0.3, augment.blur)`` input px. Occlusion: with probability
  ``augment.occlusion``, one axis-aligned rectangle of area ``OCCLUSION_AREA``
  × the input and aspect ``U(0.5, 2)`` filled with a random flat colour, the
  targets unchanged (the network learns to infer hidden joints). Each is drawn
  only when enabled (> 0), so configs without them keep their random streams.
  A window ([T, S, S, 3]) gets one draw for all its frames (a static occluder).

  Args:
    image: [S, S, 3] or [T, S, S, 3] uint8; rng: generator; aug_cfg: the
      ``augment`` section.

  Returns:
    The same shape, uint8 (the input itself when nothing was applied).
  """
  blur, occlusion = float(aug_cfg.get("blur", 0.0)), float(aug_cfg.get("occlusion", 0.0))
  frames = image if image.ndim == 4 else image[None]
  out = frames
  if blur > 0 and rng.uniform() < BLUR_PROBABILITY:
    sigma = rng.uniform(min(0.3, blur), blur)
    out = np.stack([cv2.GaussianBlur(f, (0, 0), sigmaX=sigma) for f in frames])
  if occlusion > 0 and rng.uniform() < occlusion:
    size = frames.shape[1]
    area = rng.uniform(*OCCLUSION_AREA) * size * size
    aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
    w = int(min(size, max(1, round(np.sqrt(area * aspect)))))
    h = int(min(size, max(1, round(np.sqrt(area / aspect)))))
    x0, y0 = rng.integers(0, size - w + 1), rng.integers(0, size - h + 1)
    out = out.copy() if out is frames else out
    out[:, y0:y0 + h, x0:x0 + w] = rng.integers(0, 256, size=3, dtype=np.uint8)
  if out is frames:
    return image
  return out if image.ndim == 4 else out[0]


__all__ = [
    "FLIP_PROBABILITY", "CROP_MODES", "identity_affine", "compose_affine", "flip_affine",
    "is_mirrored", "frame_to_input_matrix", "sample_affine",
    "warp_example", "colour_jitter", "degrade",
]
