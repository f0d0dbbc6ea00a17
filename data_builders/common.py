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


def manual_dir(dl_manager) -> tuple[epath.Path | None, str]:
  """The configured manual_dir if TFDS accepts it, else None and TFDS's reason.

  ``DownloadManager.manual_dir`` (TFDS 4.9.10) raises AssertionError when the
  folder is unset, missing or empty (its message names the folder, not our
  fix), so builders add their own hint to the reason.

  Returns:
    (path, "") or (None, the first line of TFDS's message).
  """
  try:
    return epath.Path(dl_manager.manual_dir), ""
  except AssertionError as e:
    return None, str(e).splitlines()[0] if str(e) else "manual_dir not set"


def existing_manual_dir(dl_manager, dataset: str, hint: str) -> epath.Path:
  """The configured manual_dir, or an InputError ``<dataset> manual_dir: <TFDS's reason>: <hint>``."""
  path, reason = manual_dir(dl_manager)
  if path is None:
    raise InputError(f"{dataset} manual_dir: {reason}: {hint}")
  return path


def archive_root(manual: epath.Path, folder: str, marker: str, hint: str) -> epath.Path:
  """``manual/folder`` (the extracted archive) or ``manual`` itself, whichever holds ``marker``."""
  for root in (manual / folder, manual):
    if (root / marker).exists():
      return root
  raise InputError(f"{manual / folder / marker} not found: {hint}")


def load_mat_struct(path, variable: str, required_fields, what: str, hint: str, *,
                    unreadable_hint: str | None = None, as_record: bool = False):
  """Reads the MATLAB struct (array) ``variable`` from ``path``, checking it is the expected file.

  Args:
    path: the .mat file.
    variable: the struct variable to read.
    required_fields: field names the struct must have.
    what: the expected file, for messages ("FLIC's examples.mat").
    hint: what to do about a wrong file.
    unreadable_hint: what to do about an unreadable (e.g. truncated) file; default ``hint``.
    as_record: False: ``squeeze_me=True, struct_as_record=False`` and a list of
      scipy ``mat_struct`` (fields by attribute name) is returned; True:
      ``squeeze_me=False, struct_as_record=True`` and the struct ndarray
      (fields by ``[name]``) is returned.

  Raises InputError naming ``path`` when the file does not load (truncated or
  not MATLAB), lacks ``variable`` (another dataset's file), or the variable is
  not a struct with ``required_fields``.
  """
  import scipy.io  # pylint: disable=import-outside-toplevel
  try:
    mat = scipy.io.loadmat(os.fspath(path), squeeze_me=not as_record, struct_as_record=as_record)
  except Exception as e:  # scipy raises ValueError/TypeError/OSError/MatReadError on bad files.
    reason = str(e).splitlines()[0] if str(e) else "no details"
    raise InputError(f"{path}: not a readable MATLAB file ({type(e).__name__}: {reason}); "
                     f"it may be truncated: {unreadable_hint or hint}") from None
  if variable not in mat:
    found = sorted(k for k in mat if not k.startswith("__"))
    raise InputError(f"{path}: no variable {variable!r} (found {found}); this is not {what}: {hint}")
  if as_record:
    data = np.asarray(mat[variable])
    fields = data.dtype.names
  else:
    data = list(np.atleast_1d(mat[variable]))
    fields = getattr(data[0], "_fieldnames", None) if data else None
  if fields is None:
    raise InputError(f"{path}: {variable!r} is not a struct array; this is not {what}: {hint}")
  missing = [f for f in required_fields if f not in fields]
  if missing:
    raise InputError(f"{path}: {variable!r} lacks fields {missing} (found {list(fields)}); "
                     f"this is not {what}: {hint}")
  return data


def box_from_joints(joints: np.ndarray, visible: np.ndarray | None, hw: tuple[int, int], *,
                    margin: float = 0.0, pad: float = 0.0, min_points: int = 2) -> np.ndarray:
  """A person box around joints: [4] float32 x0, y0, x1, y1, clipped to the frame.

  The extent of the visible joints grown on each side by ``margin`` x its larger
  side (at least 1 px) plus ``pad`` px; the whole frame when fewer than
  ``min_points`` joints are visible.

  Args:
    joints: [..., 2] 0-based px (any leading shape, e.g. [J, 2] or [N, J, 2]).
    visible: [...] bool, or None for all finite joints.
    hw: the frame's (H, W).
  """
  h, w = hw
  box = joints_lib.joints_box(joints, visible, margin=margin, pad=pad, min_points=min_points)
  if box is None:
    return np.array([0, 0, w - 1, h - 1], np.float32)
  return np.clip(box, 0, [w - 1, h - 1, w - 1, h - 1]).astype(np.float32)


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
