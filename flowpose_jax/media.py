"""Reading and writing images and videos (host side, OpenCV).

All frames are uint8 RGB ``[H, W, 3]`` (videos ``[T, H, W, 3]``). Every read
failure raises ``InputError`` with one line naming the file and what to do.
Writes go to a temp file in the target folder and are renamed into place at
the end, so a failed write never replaces an earlier good file.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import warnings
import cv2
import numpy as np

from flowpose_jax import fileio
from flowpose_jax.errors import InputError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
# Codec per output container (cv2.VideoWriter fourcc).
WRITE_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
DEFAULT_FPS = 25.0  # BBC Pose frame rate; used when a video reports no valid fps

_JPEG_SOI, _JPEG_SOS, _JPEG_EOI = b"\xff\xd8", b"\xff\xda", b"\xff\xd9"
_PNG_SIGNATURE, _PNG_IEND = b"\x89PNG\r\n\x1a\n", b"IEND"
_ACCEPTED = (f"an image ({' '.join(IMAGE_EXTENSIONS)}), a folder of such images, "
             f"or a video ({' '.join(VIDEO_EXTENSIONS)})")


@dataclasses.dataclass(frozen=True)
class InputItem:
  """One resolved input.

  Attributes:
    kind: "image", "frames" (a folder of images read as one sequence) or "video".
    path: the file or folder as given.
    frames: image files in order (kind "image": the file; "frames": the
      folder's images naturally sorted; "video": empty).
  """
  kind: str
  path: str
  frames: tuple[str, ...] = ()

  @property
  def name(self) -> str:
    """Base name without extension, e.g. for output files."""
    return os.path.splitext(os.path.basename(os.path.normpath(self.path)))[0]


def _ext(path: str) -> str:
  return os.path.splitext(path)[1].lower()


def _require_file(path: str, what: str) -> None:
  if not os.path.exists(path):
    raise InputError(f"{path}: no such file; check the path (expected {what})")
  if not os.path.isfile(path):
    raise InputError(f"{path}: not a file; pass {what}")


def _truncation(data: bytes) -> str | None:
  """Why an encoded JPEG/PNG looks cut short, or None.

  JPEG: the last end-of-image marker must follow the last start-of-scan
  (scan data byte-stuffs 0xFF, so neither marker occurs inside it; an EXIF
  thumbnail's EOI comes before the main scan). PNG: the IEND chunk must exist.
  """
  if data.startswith(_JPEG_SOI):
    if data.rfind(_JPEG_EOI) < max(data.rfind(_JPEG_SOS), len(_JPEG_SOI)):
      return "JPEG has no end-of-image marker after its last scan"
  elif data.startswith(_PNG_SIGNATURE):
    if data.rfind(_PNG_IEND) < 0:
      return "PNG has no IEND chunk"
  return None


def decode_image(data: bytes, name: str = "<bytes>") -> np.ndarray:
  """Decodes encoded image bytes.

  Args:
    data: encoded JPEG/PNG/BMP bytes.
    name: shown in error messages.

  Returns:
    [H, W, 3] uint8 RGB (grey is replicated, alpha dropped, 16-bit scaled).
  """
  if not data:
    raise InputError(f"{name}: empty file; re-export or re-download it")
  reason = _truncation(data)
  if reason:
    raise InputError(f"{name}: truncated image ({reason}); re-export or re-download it")
  image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
  if image is None:
    raise InputError(f"{name}: not a readable image (corrupt or unsupported format); "
                     f"convert it to .png or .jpg")
  return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_image(path: str) -> np.ndarray:
  """Reads an image file.

  Args:
    path: JPEG/PNG/BMP file.

  Returns:
    [H, W, 3] uint8 RGB.
  """
  _require_file(path, "an image file")
  with open(path, "rb") as f:
    return decode_image(f.read(), path)


def _open_video(path: str) -> tuple[cv2.VideoCapture, float, int]:
  """Opens a video; returns (capture, fps, frame count reported by the container; 0 if unknown)."""
  _require_file(path, f"a video ({' '.join(VIDEO_EXTENSIONS)})")
  cap = cv2.VideoCapture(path)
  if not cap.isOpened():
    cap.release()
    raise InputError(f"{path}: not a readable video (corrupt, truncated or unsupported codec); "
                     f"re-download it or re-encode it, e.g. `ffmpeg -i {path} out.mp4`")
  fps = float(cap.get(cv2.CAP_PROP_FPS))
  if not np.isfinite(fps) or fps <= 0:
    fps = DEFAULT_FPS
  expected = int(max(cap.get(cv2.CAP_PROP_FRAME_COUNT), 0))
  return cap, fps, expected


def read_video(path: str, max_frames: int | None = None, strict: bool = False
               ) -> tuple[np.ndarray, float]:
  """Reads a video into memory.

  Args:
    path: video file.
    max_frames: read at most this many frames (None: all).
    strict: if the video ends before the frame count its container reports
      (truncated, or damaged in the middle), raise ``InputError``; otherwise
      warn and return the frames read.

  Returns:
    frames: [T, H, W, 3] uint8 RGB, T >= 1.
    fps: frames per second (``DEFAULT_FPS`` if the file reports none).
  """
  frames, fps, expected = _read_video(path, max_frames)
  if expected is not None:
    short = short_video_message(path, len(frames), expected)
    if strict:
      raise InputError(short)
    warnings.warn(short, stacklevel=2)
  return frames, fps


def short_video_message(path: str, read: int, expected: int) -> str:
  """The one line for a video that ended after ``read`` of its ``expected`` frames."""
  return (f"{path}: video ended after {read} of {expected} frames (truncated or damaged: frames {read}-"
          f"{expected - 1} missing); re-download it, or read only the good frames: flowpose predict "
          f"--max_frames {read} (read_video(..., max_frames={read}) in Python)")


def _read_video(path: str, max_frames: int | None) -> tuple[np.ndarray, float, int | None]:
  """``read_video``'s frames and fps, and the frame count the container promised when the video
  ended before it (else None)."""
  cap, fps, expected = _open_video(path)
  frames = []
  try:
    while max_frames is None or len(frames) < max_frames:
      ok, frame = cap.read()
      if not ok or frame is None:
        break
      frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
  finally:
    cap.release()
  if not frames:
    raise InputError(f"{path}: video has no decodable frames; re-encode or re-download it")
  promised = expected if max_frames is None else min(expected, max_frames)
  return np.stack(frames), fps, (promised if len(frames) < promised else None)


def _natural_key(name: str) -> list:
  """Sort key with digit runs compared as numbers: 2.jpg < 10.jpg."""
  return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def resolve_input(path: str) -> InputItem:
  """Resolves a path to an image, a folder of frames or a video (nothing is decoded).

  Raises ``InputError`` for a missing path, an unknown extension or a folder
  without images, naming the path and what is accepted.
  """
  if os.path.isdir(path):
    names = sorted((n for n in os.listdir(path) if _ext(n) in IMAGE_EXTENSIONS), key=_natural_key)
    if not names:
      raise InputError(f"{path}: folder holds no images ({' '.join(IMAGE_EXTENSIONS)}); "
                       f"pass {_ACCEPTED}")
    return InputItem("frames", path, tuple(os.path.join(path, n) for n in names))
  if not os.path.exists(path):
    raise InputError(f"{path}: no such file or folder; pass {_ACCEPTED}")
  ext = _ext(path)
  if ext in IMAGE_EXTENSIONS:
    return InputItem("image", path, (path,))
  if ext in VIDEO_EXTENSIONS:
    return InputItem("video", path)
  raise InputError(f"{path}: unknown extension {ext!r}; pass {_ACCEPTED}")


def read_item(item: InputItem, max_frames: int | None = None) -> tuple[list[np.ndarray], float, int | None]:
  """Reads an input's frames (an image is a 1-frame sequence).

  Args:
    item: from ``resolve_input``.
    max_frames: read at most this many frames of a video or folder (None: all).

  Returns:
    frames: T >= 1 arrays [H, W, 3] uint8 RGB (a folder's images may differ in size).
    fps: the video's frame rate, ``DEFAULT_FPS`` for images and folders.
    expected: None, or the frame count a video promised when it ended before
      it (truncated or damaged: the frames are those read before the break).
  """
  if item.kind == "video":
    frames, fps, expected = _read_video(item.path, max_frames)
    return list(frames), fps, expected
  return [read_image(path) for path in item.frames[:max_frames]], DEFAULT_FPS, None


def _check_rgb(image: np.ndarray, what: str) -> np.ndarray:
  image = np.asarray(image)
  if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"{what} must be uint8 [H, W, 3] RGB, got {image.dtype} {image.shape}")
  return image


def write_image(path: str, image: np.ndarray) -> None:
  """Writes a uint8 [H, W, 3] RGB image; the format follows the extension."""
  image = _check_rgb(image, "image")
  ext = _ext(path)
  if ext not in IMAGE_EXTENSIONS:
    raise InputError(f"{path}: cannot write extension {ext!r}; use one of {' '.join(IMAGE_EXTENSIONS)}")
  ok, data = cv2.imencode(ext, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
  if not ok:
    raise InputError(f"{path}: OpenCV could not encode the image as {ext}; try .png")
  fileio.write_bytes(path, data.tobytes())


def _check_written(tmp: str, path: str, count: int) -> None:
  """Refuses a written video that does not read back whole (OpenCV's writer reports no write errors:
  a full disk leaves a file without its index), before it replaces ``path``."""
  cap = cv2.VideoCapture(tmp)
  try:
    ok = cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == count
  finally:
    cap.release()
  if not ok:
    raise OSError(errno.EIO, f"the video written does not read back ({count} frames): disk full or "
                             f"unwritable folder?", path)


def write_video(path: str, frames: np.ndarray, fps: float) -> None:
  """Writes frames as a video ('mp4v' for .mp4/.m4v/.mov, 'MJPG' for .avi).

  Args:
    path: output file; its extension picks the codec.
    frames: [T, H, W, 3] uint8 RGB, T >= 1 (or a list of [H, W, 3]).
    fps: frames per second, > 0.
  """
  frames = np.asarray(frames)
  if frames.ndim != 4 or len(frames) == 0:
    raise ValueError(f"frames must be uint8 [T, H, W, 3] with T >= 1, got shape {frames.shape}")
  _check_rgb(frames[0], "each frame")
  if not fps > 0:
    raise ValueError(f"fps must be > 0, got {fps}")
  ext = _ext(path)
  if ext not in WRITE_FOURCC:
    raise InputError(f"{path}: cannot write video extension {ext!r}; use one of {' '.join(WRITE_FOURCC)}")
  height, width = frames.shape[1:3]
  with fileio.atomic_output(path) as tmp:
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*WRITE_FOURCC[ext]), float(fps),
                             (width, height))
    if not writer.isOpened():
      raise InputError(f"{path}: OpenCV could not open a video writer for {ext} "
                       f"({WRITE_FOURCC[ext]}); check the folder is writable or use .avi")
    try:
      for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
      writer.release()
    if os.path.getsize(tmp) == 0:
      raise InputError(f"{path}: OpenCV wrote an empty video; check the codec or use .avi")
    _check_written(tmp, path, len(frames))
