"""Pose and heatmap overlays (host side, OpenCV), all uint8 RGB.

Colours follow the *person's* side (see ``joints.py``): right arm ORANGE,
left arm BLUE, head and the shoulder line GREEN. Ground truth, when given, is
drawn underneath in thin WHITE lines with hollow circles.
"""

from __future__ import annotations

import cv2
import numpy as np

from flowpose_jax.joints import JOINT_NAMES, SKELETON

RIGHT_COLOR = (255, 140, 0)   # orange (RGB)
LEFT_COLOR = (0, 120, 255)    # blue
CENTRE_COLOR = (0, 200, 80)   # green: head, shoulder-to-shoulder
GT_COLOR = (255, 255, 255)    # white
LINE_WIDTH_FRACTION = 1 / 128  # line width as a fraction of min(H, W); 2 px at 256
JOINT_RADIUS_SCALE = 1.5       # dot radius in line widths
SUBPIXEL_BITS = 4              # cv2 drawing ``shift``: 1/16 px positions
HEATMAP_ALPHA = 0.6            # overlay opacity where the heatmap is at its peak
MONTAGE_PAD = 4                # px between montage tiles
MONTAGE_PAD_VALUE = 255        # white padding


def _side_color(name: str) -> tuple[int, int, int]:
  if name.startswith("right"):
    return RIGHT_COLOR
  if name.startswith("left"):
    return LEFT_COLOR
  return CENTRE_COLOR


JOINT_COLORS = tuple(_side_color(n) for n in JOINT_NAMES)
EDGE_COLORS = tuple(JOINT_COLORS[a] if JOINT_COLORS[a] == JOINT_COLORS[b] else CENTRE_COLOR
                    for a, b in SKELETON)


def _as_rgb(image: np.ndarray) -> np.ndarray:
  image = np.asarray(image)
  if image.dtype != np.uint8:
    raise ValueError(f"image must be uint8, got {image.dtype}")
  if image.ndim == 2:
    image = np.repeat(image[..., None], 3, axis=-1)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"image must be [H, W, 3] (or [H, W]) uint8, got shape {image.shape}")
  return image


def _fixed(xy: np.ndarray) -> tuple[int, int]:
  """(x, y) px -> cv2 fixed-point with ``SUBPIXEL_BITS`` fractional bits."""
  scale = 1 << SUBPIXEL_BITS
  return int(round(xy[0] * scale)), int(round(xy[1] * scale))


def _draw_skeleton(canvas: np.ndarray, joints: np.ndarray, show: np.ndarray, width: int,
                   edge_colors, joint_colors, filled: bool) -> None:
  """Draws edges then dots in place on ``canvas`` (a private copy)."""
  radius = int(round(JOINT_RADIUS_SCALE * width * (1 << SUBPIXEL_BITS)))
  for (a, b), color in zip(SKELETON, edge_colors):
    if show[a] and show[b]:
      cv2.line(canvas, _fixed(joints[a]), _fixed(joints[b]), color, width, cv2.LINE_AA,
               SUBPIXEL_BITS)
  for j in np.flatnonzero(show):
    cv2.circle(canvas, _fixed(joints[j]), radius, joint_colors[j],
               cv2.FILLED if filled else max(1, width // 2), cv2.LINE_AA, SUBPIXEL_BITS)


def draw_pose(image: np.ndarray, joints: np.ndarray, confidence: np.ndarray | None = None,
              visible: np.ndarray | None = None, gt: np.ndarray | None = None,
              min_confidence: float | None = None) -> np.ndarray:
  """Draws a predicted skeleton (and optionally ground truth) on a copy of ``image``.

  Args:
    image: [H, W, 3] uint8 RGB (or [H, W] grey).
    joints: [J, 2] float, (x, y) image px, pixel centres at integers.
    confidence: [J] float or None; with ``min_confidence`` set, joints below
      it are not drawn.
    visible: [J] bool or None (all); hidden joints are not drawn (pred or gt).
    gt: [J, 2] float or None; drawn first, thin white, hollow dots.
      Non-finite coordinates are skipped.
    min_confidence: threshold on ``confidence`` (None: draw regardless).

  Returns:
    [H, W, 3] uint8 RGB; the input is not modified. Line width scales with
    min(H, W) (``LINE_WIDTH_FRACTION``).
  """
  canvas = _as_rgb(image).copy()
  joints = np.asarray(joints, np.float64)
  num = len(JOINT_NAMES)
  if joints.shape != (num, 2):
    raise ValueError(f"joints must be [{num}, 2], got shape {joints.shape}")
  show = np.ones(num, bool) if visible is None else np.asarray(visible, bool).copy()
  width = max(1, int(round(min(canvas.shape[:2]) * LINE_WIDTH_FRACTION)))
  if gt is not None:
    gt = np.asarray(gt, np.float64)
    gt_show = show & np.all(np.isfinite(gt), axis=-1)
    _draw_skeleton(canvas, gt, gt_show, max(1, width // 2), [GT_COLOR] * len(SKELETON),
                   [GT_COLOR] * num, filled=False)
  if confidence is not None and min_confidence is not None:
    show &= np.asarray(confidence, np.float64) >= min_confidence
  show &= np.all(np.isfinite(joints), axis=-1)
  _draw_skeleton(canvas, joints, show, width, EDGE_COLORS, JOINT_COLORS, filled=True)
  return canvas


def heatmap_overlay(image: np.ndarray, heatmaps: np.ndarray, alpha: float = HEATMAP_ALPHA
                    ) -> np.ndarray:
  """Blends the max-over-joints heatmap, colour-mapped (jet), onto ``image``.

  Heat is shown on an absolute scale (1 = the codec's peak), scaled down only
  if the maps exceed 1, so a weak early network looks weak. Opacity grows
  with heat (``alpha`` at the peak), leaving cold areas unchanged.

  Args:
    image: [H, W, 3] uint8 RGB (or [H, W] grey).
    heatmaps: [h, w, J] float, any grid; resized bilinearly to H x W.
    alpha: opacity at the peak, in [0, 1].

  Returns:
    [H, W, 3] uint8 RGB.
  """
  image = _as_rgb(image)
  heatmaps = np.asarray(heatmaps, np.float32)
  if heatmaps.ndim != 3:
    raise ValueError(f"heatmaps must be [h, w, J], got shape {heatmaps.shape}")
  heat = np.clip(np.nan_to_num(heatmaps.max(axis=-1)), 0.0, None)
  heat = heat / max(float(heat.max()), 1.0)
  heat = cv2.resize(heat, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
  colors = cv2.applyColorMap(np.round(heat * 255).astype(np.uint8), cv2.COLORMAP_JET)
  colors = cv2.cvtColor(colors, cv2.COLOR_BGR2RGB).astype(np.float32)
  weight = (alpha * heat)[..., None]
  out = (1.0 - weight) * image.astype(np.float32) + weight * colors
  return np.clip(np.round(out), 0, 255).astype(np.uint8)


def montage(images: list[np.ndarray], cols: int, pad: int = MONTAGE_PAD,
            pad_value: int = MONTAGE_PAD_VALUE) -> np.ndarray:
  """Tiles images row-major into a grid (for summaries).

  Args:
    images: list of [H_i, W_i, 3] (or [H_i, W_i]) uint8; each sits at the
      top-left of a cell of the largest H x W.
    cols: tiles per row (>= 1; capped at len(images)); rows follow.
    pad: px between and around tiles.
    pad_value: padding grey level.

  Returns:
    [rows * (H + pad) + pad, cols * (W + pad) + pad, 3] uint8.
  """
  if not len(images):
    raise ValueError("montage needs at least one image")
  if cols < 1:
    raise ValueError(f"cols must be >= 1, got {cols}")
  images = [_as_rgb(im) for im in images]
  cols = min(cols, len(images))
  rows = -(-len(images) // cols)
  cell_h = max(im.shape[0] for im in images)
  cell_w = max(im.shape[1] for im in images)
  out = np.full((rows * (cell_h + pad) + pad, cols * (cell_w + pad) + pad, 3), pad_value, np.uint8)
  for i, im in enumerate(images):
    y = pad + (i // cols) * (cell_h + pad)
    x = pad + (i % cols) * (cell_w + pad)
    out[y:y + im.shape[0], x:x + im.shape[1]] = im
  return out
