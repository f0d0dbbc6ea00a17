"""Shared pieces of the pose dataset builders (TFDS, array_record, no TensorFlow).

Every builder writes the same core features so that one input pipeline reads
them all:
  image: [H, W, 3] uint8 RGB (JPEG bytes in the record);
  joints: [7, 2] float32 (x, y) px, 0-based, pixel centres at integers, BBC Pose
    order (``flowpose_jax.joints.JOINT_NAMES``); missing joints are NaN;
  visible: [7] bool;
  video_id: int32 (-1 for still images); frame_index: int32 (-1 likewise).
Builders add their own extra keys (e.g. the dataset's full joint set).
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from flowpose_jax import joints as joints_lib
from flowpose_jax.errors import InputError

JPEG_QUALITY = 95


class PoseBuilderMixin:
  """Mix into a ``tfds.core.GeneratorBasedBuilder`` defined in this package."""

  # TFDS 4.9.10 resolves a packaged builder's code path through
  # `importlib_resources`, which it only requires on Python < 3.9; naming the
  # file directly avoids that import. Subclasses set CODE_FILE = __file__.
  CODE_FILE: str = __file__

  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    return epath.Path(cls.CODE_FILE)


def pose_features(extra: dict | None = None, image_shape=(None, None, 3)) -> tfds.features.FeaturesDict:
  """The core pose features plus ``extra`` (name -> tfds feature)."""
  nj = joints_lib.NUM_JOINTS
  feats = {
      "image": tfds.features.Image(shape=image_shape, encoding_format="jpeg"),
      "joints": tfds.features.Tensor(shape=(nj, 2), dtype=np.float32),
      "visible": tfds.features.Tensor(shape=(nj,), dtype=np.bool_),
      "video_id": tfds.features.Tensor(shape=(), dtype=np.int32),
      "frame_index": tfds.features.Tensor(shape=(), dtype=np.int32),
  }
  feats.update(extra or {})
  return tfds.features.FeaturesDict(feats)


def require_path(manual_dir, relative: str, dataset: str, hint: str) -> epath.Path:
  """``manual_dir / relative``, or an InputError naming it and what to do."""
  if manual_dir is None:
    raise InputError(f"{dataset} needs manually downloaded files: pass --manual_dir (see {hint})")
  path = epath.Path(manual_dir) / relative
  if not path.exists():
    raise InputError(f"{path} not found: {hint}")
  return path


def image_bytes(path, *, reencode_as_jpeg: bool = True) -> bytes:
  """Reads an image file, checks it decodes (names the file if not), returns JPEG bytes.

  JPEG files are passed through unchanged after the check; other formats are
  re-encoded (quality ``JPEG_QUALITY``).
  """
  path = str(path)
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise InputError(f"{path}: cannot read ({e.strerror}); re-download the dataset's frames") from None
  image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
  if image is None:
    raise InputError(f"{path}: not a decodable image (corrupt or truncated); re-download it")
  if data[:2] == b"\xff\xd8":
    if data.rstrip(b"\x00")[-2:] != b"\xff\xd9":
      raise InputError(f"{path}: truncated JPEG (no end-of-image marker); re-download it")
    return data
  if not reencode_as_jpeg:
    return data
  return encode_jpeg(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), name=path)


def encode_jpeg(image_rgb: np.ndarray, name: str = "image") -> bytes:
  """uint8 [H, W, 3] RGB -> JPEG bytes."""
  ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR),
                         [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
  if not ok:
    raise InputError(f"{name}: JPEG encoding failed")
  return buf.tobytes()


def mask_missing(joints: np.ndarray, visible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
  """NaN-out missing joints (non-finite or the BBC Pose sentinel -999).

  Args:
    joints: [J, 2] float (0-based px).
    visible: optional [J] bool from the dataset.

  Returns: joints [J, 2] float32 with NaN where missing, visible [J] bool.
  """
  joints = np.asarray(joints, np.float32).copy()
  missing = ~np.isfinite(joints).all(-1) | (joints == joints_lib.MISSING_SENTINEL).any(-1)
  vis = ~missing if visible is None else (np.asarray(visible, bool) & ~missing)
  joints[~vis] = np.nan
  return joints, vis


def manual_dir_from_env(default=None):
  """``$FLOWPOSE_MANUAL_DIR`` or ``default``."""
  return os.environ.get("FLOWPOSE_MANUAL_DIR", default)
