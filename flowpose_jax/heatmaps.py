"""Heatmap codec: joints <-> Gaussian heatmaps, and coordinate transforms.

Conventions (used everywhere in the project):
  * joints are (x, y), 0-based, with pixel *centres* at integer coordinates;
  * a heatmap of stride ``s`` (input pixels per heatmap pixel) has its pixel
    ``u`` covering input pixels ``[s*u, s*u + s)``, so the centre of heatmap
    pixel ``u`` is input coordinate ``s*u + (s - 1)/2``;
  * a missing joint has ``visible == False``; its coordinates are ignored and
    its heatmap is all zero with weight 0 (never treated as (0, 0)).

All functions are pure numpy (host side) unless they say otherwise; ``decode``
also accepts jax arrays through numpy conversion.
"""

from __future__ import annotations

import numpy as np

DEFAULT_SIGMA = 1.5  # heatmap pixels; the authors' release (data_heatmap.cpp).


def encode(joints: np.ndarray, visible: np.ndarray, size: int = 64,
           sigma: float = DEFAULT_SIGMA) -> np.ndarray:
  """Renders one Gaussian per joint.

  Args:
    joints: [N, J, 2] float, (x, y) on the ``size`` heatmap grid.
    visible: [N, J] bool; invisible joints get an all-zero map.
    size: heatmap side in pixels (square maps).
    sigma: Gaussian standard deviation in heatmap pixels.

  Returns:
    [N, size, size, J] float32 with peak 1 at the (sub-pixel) joint location.
  """
  joints = np.asarray(joints, np.float32)
  visible = np.asarray(visible, bool)
  if joints.ndim != 3 or joints.shape[-1] != 2:
    raise ValueError(f"joints must be [N, J, 2], got shape {joints.shape}")
  if visible.shape != joints.shape[:2]:
    raise ValueError(f"visible must be {joints.shape[:2]}, got {visible.shape}")
  grid = np.arange(size, dtype=np.float32)
  x = np.where(visible, joints[..., 0], 0.0)  # [N, J]
  y = np.where(visible, joints[..., 1], 0.0)
  gx = np.exp(-((grid[None, None, :] - x[..., None]) ** 2) / (2 * sigma**2))  # [N, J, W]
  gy = np.exp(-((grid[None, None, :] - y[..., None]) ** 2) / (2 * sigma**2))  # [N, J, H]
  maps = gy[..., :, None] * gx[..., None, :]  # [N, J, H, W]
  maps *= visible[..., None, None]
  return np.ascontiguousarray(np.moveaxis(maps, 1, -1)).astype(np.float32)


def decode(heatmaps: np.ndarray, sigma: float = DEFAULT_SIGMA) -> tuple[np.ndarray, np.ndarray]:
  """Argmax with sub-pixel refinement.

  Along each axis, with both neighbours of the argmax on the map, a parabola
  is fitted to the log of the three values (exact for a Gaussian of any
  width). On the map's border only one neighbour exists; then the offset
  comes from the log-ratio of the peak and that neighbour for a Gaussian of
  the given ``sigma`` (exact for the codec's own maps). Where values are not
  positive the axis keeps the integer argmax.

  Args:
    heatmaps: [N, H, W, J] float.
    sigma: Gaussian width in heatmap px assumed on borders.

  Returns:
    joints: [N, J, 2] float32, (x, y) on the heatmap grid.
    confidence: [N, J] float32, the map's maximum value.
  """
  hm = np.asarray(heatmaps, np.float32)
  if hm.ndim != 4:
    raise ValueError(f"heatmaps must be [N, H, W, J], got shape {hm.shape}")
  n, h, w, j = hm.shape
  flat = np.moveaxis(hm, -1, 1).reshape(n, j, h * w)
  idx = flat.argmax(-1)
  conf = np.take_along_axis(flat, idx[..., None], -1)[..., 0]
  iy, ix = np.divmod(idx, w)
  maps = np.moveaxis(hm, -1, 1)  # [N, J, H, W]
  nn, jj = np.meshgrid(np.arange(n), np.arange(j), indexing="ij")
  eps = 1e-10

  def offset(i, size, lo_val, hi_val):
    has_lo, has_hi = i > 0, i < size - 1
    ok_c = conf > eps
    lc = np.log(np.maximum(conf, eps))
    ll = np.log(np.maximum(lo_val, eps))
    lh = np.log(np.maximum(hi_val, eps))
    denom = ll - 2 * lc + lh
    both = has_lo & has_hi & ok_c & (lo_val > eps) & (hi_val > eps) & (denom < -1e-8)
    parabola = 0.5 * (ll - lh) / np.where(both, denom, -1.0)
    only_hi = ~has_lo & has_hi & ok_c & (hi_val > eps)
    only_lo = has_lo & ~has_hi & ok_c & (lo_val > eps)
    off = np.where(both, parabola, 0.0)
    off = np.where(only_hi, 0.5 - sigma**2 * (lc - lh), off)
    off = np.where(only_lo, -0.5 + sigma**2 * (lc - ll), off)
    return np.clip(off, -0.5, 0.5)

  xl, xr = np.clip(ix - 1, 0, w - 1), np.clip(ix + 1, 0, w - 1)
  yl, yr = np.clip(iy - 1, 0, h - 1), np.clip(iy + 1, 0, h - 1)
  dx = offset(ix, w, maps[nn, jj, iy, xl], maps[nn, jj, iy, xr])
  dy = offset(iy, h, maps[nn, jj, yl, ix], maps[nn, jj, yr, ix])
  joints = np.stack([ix + dx, iy + dy], -1).astype(np.float32)
  return joints, conf.astype(np.float32)


def input_to_heatmap(xy: np.ndarray, stride: float) -> np.ndarray:
  """Network-input pixel coordinates -> heatmap-grid coordinates.

  Args:
    xy: [..., 2] (x, y) in input pixels.
    stride: input pixels per heatmap pixel (4 for 256 -> 64).
  """
  return (np.asarray(xy, np.float32) - (stride - 1) / 2) / stride


def heatmap_to_input(uv: np.ndarray, stride: float) -> np.ndarray:
  """Inverse of ``input_to_heatmap``: [..., 2] heatmap grid -> input pixels."""
  return np.asarray(uv, np.float32) * stride + (stride - 1) / 2


def heatmap_points(matrix: np.ndarray, size: int, stride: int, offsets: np.ndarray | None = None) -> np.ndarray:
  """Frame positions of the heatmap pixel centres (optionally shifted in the input).

  Args:
    matrix: [2, 3] frame -> input affine.
    size: S, the input side; stride: input px per heatmap px (h = S // stride).
    offsets: None, or [K, 2] (dx, dy) input px added to each centre first.

  Returns:
    [h * h, 2] float64 (x, y) frame px, row-major over the heatmap (v, u);
    with ``offsets``, [K, h * h, 2].
  """
  h = size // stride
  m = np.asarray(matrix, np.float64)
  uv = np.stack(np.mgrid[0:h, 0:h][::-1], -1).reshape(-1, 2)  # (u, v)
  p_in = heatmap_to_input(uv, stride).astype(np.float64)
  shift = np.zeros((1, 2)) if offsets is None else np.asarray(offsets, np.float64)
  points = (p_in[None] + shift[:, None] - m[:, 2]) @ np.linalg.inv(m[:, :2]).T
  return points[0] if offsets is None else points


def apply_affine(xy: np.ndarray, matrix: np.ndarray) -> np.ndarray:
  """Applies 2x3 affine matrices to points.

  Args:
    xy: [..., J, 2] points.
    matrix: [2, 3] or [..., 2, 3] (batched like ``xy`` without the J axis).

  Returns:
    [..., J, 2] float32 transformed points.
  """
  xy = np.asarray(xy, np.float32)
  m = np.asarray(matrix, np.float32)
  lin, t = m[..., :2], m[..., 2]
  return np.einsum("...ij,...kj->...ki", lin, xy) + t[..., None, :]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
  """Inverts [..., 2, 3] affine matrices."""
  m = np.asarray(matrix, np.float64)
  lin, t = m[..., :2], m[..., 2:]
  inv = np.linalg.inv(lin)
  return np.concatenate([inv, -inv @ t], -1).astype(np.float32)


def focus_on_person(hm: np.ndarray, anchor: int = 0, spread: float = 0.25) -> np.ndarray:
  """Keeps one person's peaks in maps that may show several people.

  The person is the one with the strongest peak of joint ``anchor`` (the head
  by default); every map is multiplied by a Gaussian of sigma ``spread`` × the
  map's larger side centred on that peak, so each joint's argmax is the
  strongest one near that person rather than a stronger one on someone else.
  The anchor's own map is returned unchanged.

  Args:
    hm: [B, h, w, J] heatmaps.
    anchor: the joint whose global peak picks the person.
    spread: the prior's sigma, fraction of max(h, w).

  Returns:
    [B, h, w, J] float32.
  """
  hm = np.asarray(hm, np.float32)
  b, h, w, _ = hm.shape
  idx = hm[..., anchor].reshape(b, -1).argmax(-1)
  cy, cx = np.divmod(idx, w)
  yy, xx = np.mgrid[0:h, 0:w]
  d2 = (yy[None] - cy[:, None, None]) ** 2 + (xx[None] - cx[:, None, None]) ** 2
  prior = np.exp(-d2 / (2.0 * (spread * max(h, w)) ** 2)).astype(np.float32)[..., None]
  out = hm * prior
  out[..., anchor] = hm[..., anchor]
  return out


def decode_to_frame(hm: np.ndarray, matrix: np.ndarray, stride: float,
                    frame_hw: tuple[int, int] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Heatmaps of network inputs -> joints in the frames' pixels.

  The one path from a network's maps back to a frame: ``decode`` (peak +
  sub-pixel), heatmap grid -> input px, then the inverse of the frame -> input
  affine each example was made with.

  Args:
    hm: [B, h, w, J] heatmaps.
    matrix: [B, 2, 3] frame -> network-input affines.
    stride: input px per heatmap px.
    frame_hw: None, or (H, W) / [B, 2] frame sizes: joints are then clipped to
      the frame (pixel centres 0..W-1, 0..H-1), so a peak in letterbox padding
      lands on the frame's border. Confidence is never changed.

  Returns:
    joints [B, J, 2] float32 (x, y) frame px, confidence [B, J] float32.
  """
  uv, conf = decode(hm)
  xy = apply_affine(heatmap_to_input(uv, stride), invert_affine(matrix))
  if frame_hw is not None:
    hw = np.broadcast_to(np.asarray(frame_hw, np.float32), (len(xy), 2))
    upper = (hw[:, ::-1] - 1.0)[:, None, :]  # [B, 1, 2] (W - 1, H - 1)
    xy = np.clip(xy, 0.0, upper).astype(np.float32)
  return xy, conf


def letterbox_matrix(frame_hw: tuple[int, int], box: np.ndarray | None, out_size: int) -> np.ndarray:
  """Affine frame -> square network input that fits ``box`` (aspect kept).

  Args:
    frame_hw: (H, W) of the frame.
    box: [4] (x0, y0, x1, y1) in frame pixels (inclusive pixel extents), or
      None for the whole frame.
    out_size: side of the square network input.

  Returns:
    [2, 3] float32 matrix mapping frame (x, y) to input (x, y), pixel-centre
    convention: the box's pixel extent [x0 - 0.5, x1 + 0.5] maps into
    [-0.5, out_size - 0.5], centred, with the longer side filling it.
  """
  h, w = frame_hw
  if box is None:
    x0, y0, x1, y1 = 0.0, 0.0, w - 1.0, h - 1.0
  else:
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
      raise ValueError(f"box must be [x0, y0, x1, y1] with x1 > x0 and y1 > y0, got {list(box)}")
  bw, bh = x1 - x0 + 1.0, y1 - y0 + 1.0
  scale = out_size / max(bw, bh)
  cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
  c = (out_size - 1) / 2
  return np.array([[scale, 0, c - scale * cx], [0, scale, c - scale * cy]], np.float32)
