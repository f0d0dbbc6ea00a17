"""Frames and person boxes in, network inputs out: checks, letterbox or box crop.

With no box the whole frame is letterboxed (aspect kept) into the S x S
network input; with a person box [x0, y0, x1, y1] that region is.
"""

from __future__ import annotations

import cv2
import numpy as np

from flowpose_jax import heatmaps as codec
from flowpose_jax.errors import InputError


def as_frames(frames) -> list[np.ndarray]:
  """[T, H, W, 3] uint8 array or a list of [H, W, 3] uint8 arrays -> list (InputError naming a bad one)."""
  if isinstance(frames, np.ndarray) and frames.ndim == 3:
    raise InputError(f"frames must be [T, H, W, 3] uint8; got one image of shape {frames.shape}: "
                     f"wrap it as frames[None]")
  out = list(frames)
  for i, f in enumerate(out):
    f = np.asarray(f)
    if f.ndim != 3 or f.shape[-1] != 3:
      raise InputError(f"frame {i} has shape {f.shape}; expected [H, W, 3] RGB")
    if f.dtype != np.uint8:
      raise InputError(f"frame {i} has dtype {f.dtype}; expected uint8 (0..255)")
  return out


def frame_sizes(frames: list[np.ndarray]) -> np.ndarray:
  """[T] frames -> [T, 2] float32 (H, W) of each."""
  return np.array([f.shape[:2] for f in frames], np.float32)


def overlaps_frame(box, frame_hw) -> bool:
  """Whether a box [4] (x0, y0, x1, y1) frame px overlaps an (H, W) frame: the
  box's pixel extent [x0 - 0.5, x1 + 0.5] meets the frame's [-0.5, W - 0.5]
  (and the same in y). It may reach outside the frame."""
  x0, y0, x1, y1 = (float(v) for v in box)
  height, width = frame_hw
  return x1 > -1 and y1 > -1 and x0 < width and y0 < height


def check_box(box, frame_size: tuple[int, int] | None = None, *, name: str = "box") -> np.ndarray:
  """A person box that can be cropped, or one InputError line saying why not.

  Args:
    box: [4] (x0, y0, x1, y1) frame px, inclusive pixel extents (as
      ``heatmaps.letterbox_matrix``): finite, x0 < x1 and y0 < y1.
    frame_size: (H, W) of the frame, or None to skip the overlap check; the
      box must overlap the frame (``overlaps_frame``).
    name: how messages call the box, e.g. "--box".

  Returns:
    [4] float32.
  """
  values = np.asarray(box, np.float64)
  if values.shape != (4,):
    raise InputError(f"{name} must be 4 numbers x0,y0,x1,y1 (frame px); got shape {values.shape}")
  text = ",".join(f"{v:g}" for v in values)
  if not np.isfinite(values).all():
    raise InputError(f"{name} {text}: not finite; give four finite numbers x0,y0,x1,y1 (frame px)")
  x0, y0, x1, y1 = values
  if not (x0 < x1 and y0 < y1):
    raise InputError(f"{name} {text}: needs x0 < x1 and y0 < y1 (x0,y0 the top-left corner, frame px)")
  if frame_size is not None and not overlaps_frame(values, frame_size):
    height, width = frame_size
    raise InputError(f"{name} {text} does not overlap the {width}x{height} (width x height) frame; "
                     f"give a box that overlaps x 0..{width - 1}, y 0..{height - 1}")
  return values.astype(np.float32)


def check_boxes(boxes, frames: list[np.ndarray]) -> np.ndarray | None:
  """None, or [T, 4] boxes checked against their frames (``check_box``) -> [T, 4] float32."""
  if boxes is None:
    return None
  boxes = np.asarray(boxes, np.float32)
  if boxes.shape != (len(frames), 4):
    raise InputError(f"boxes must be [T, 4] = [{len(frames)}, 4] (x0, y0, x1, y1); got {boxes.shape}")
  return np.stack([check_box(b, f.shape[:2], name=f"boxes[{i}]") for i, (b, f) in enumerate(zip(boxes, frames))])


def preprocess(frames, boxes, size: int) -> tuple[np.ndarray, np.ndarray]:
  """Network inputs of frames: each letterboxed, or its box cropped, into S x S.

  Args:
    frames: [T, H, W, 3] uint8 (or a list of differently sized frames).
    boxes: None or [T, 4] (x0, y0, x1, y1) frame px.
    size: S, the network input side.

  Returns:
    inputs [T, S, S, 3] uint8, matrices [T, 2, 3] float32 frame -> input.
  """
  frames = as_frames(frames)
  boxes = check_boxes(boxes, frames)
  inputs = np.zeros((len(frames), size, size, 3), np.uint8)
  mats = np.zeros((len(frames), 2, 3), np.float32)
  for i, f in enumerate(frames):
    mats[i] = codec.letterbox_matrix(f.shape[:2], None if boxes is None else boxes[i], size)
    inputs[i] = cv2.warpAffine(f, mats[i], (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
  return inputs, mats
