"""``flic``: Frames Labeled In Cinema (Sapp & Taskar, MODEC, CVPR 2013), from the user's download.

Reads the published archive contents from ``manual_dir``: ``FLIC/examples.mat`` +
``FLIC/images/`` (config ``small``, 5003 examples) or ``FLIC-full/examples.mat`` +
``FLIC-full/images/`` (config ``full``, 20928 examples). ``manual_dir`` may also be
the ``FLIC``/``FLIC-full`` folder itself. Splits ``train``/``test`` come from the
``istrain``/``istest`` flags (``small``: MODEC's 3987/1016 split).

``examples.mat`` holds ``examples``, a 1×N struct read BY FIELD NAME (TFDS's own
builder reads it by position): ``moviename``, ``coords`` (2×29, row 0 = x,
row 1 = y), ``filepath`` (file name under ``images/``; if absent,
``<moviename>-<currframe %08d>.jpg``), ``currframe``, ``torsobox``
([x1 y1 x2 y2]), ``istrain``, ``istest`` and, where present, ``isbad`` and
``isunchecked``. Sources: tensorflow/datasets ``flic_dataset_builder.py``;
qxcv/joint-regressor ``datasets/get_flic.m``; mitmul/deeppose
``scripts/flic_dataset.py``.

Coordinates: MATLAB 1-based pixels (no source says otherwise; TFDS and deeppose
pass them through untouched, so this is UNCERTAIN): 1 is subtracted here, once,
from ``coords`` and ``torsobox``.

Joint mapping (person's right; FLIC names are person-centric, but MODEC's own
evaluation flips back-facing ground truth first, so some back-facing people may
be labelled image-side — UNCERTAIN, not corrected here):
  head           = mean(leye, reye, nose) = mean of columns 12, 13, 16 (0-based),
                   as in deeppose; missing if any of the three is missing;
  right_wrist    = rwri (5);   left_wrist     = lwri (2);
  right_elbow    = relb (4);   left_elbow     = lelb (1);
  right_shoulder = rsho (3);   left_shoulder  = lsho (0).

Features (``common.pose_features`` core plus):
  joints_full: [29, 2] float32 all ``coords`` columns (``FLIC_JOINT_NAMES``),
    0-based px; NaN where FLIC has no label (only 11 columns are labelled).
  visible_full: [29] bool, finite in ``coords``.
  box: [4] float32 x0, y0, x1, y1: FLIC's ``torsobox`` (0-based); if absent or
    non-finite, the visible joints' extent grown by ``BOX_MARGIN``.
  isbad, isunchecked: bool flags (False where the field is absent).
  video_id: index of ``moviename`` in the sorted movie names of the file
    (``moviename`` itself is in ``filename``); frame_index: ``currframe``.
  filename: the image's file name under ``images/``.
Record order: ``examples`` order (``disable_shuffling``), key = index in it.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from flowpose_jax.data_builders import common
from flowpose_jax import joints as joints_lib
from flowpose_jax.errors import InputError

log = logging.getLogger(__name__)

FLIC_JOINT_NAMES: tuple[str, ...] = (
    "lsho", "lelb", "lwri", "rsho", "relb", "rwri", "lhip", "lkne", "lank", "rhip", "rkne",
    "rank", "leye", "reye", "lear", "rear", "nose", "msho", "mhip", "mear", "mtorso", "mluarm",
    "mruarm", "mllarm", "mrlarm", "mluleg", "mruleg", "mllleg", "mrlleg")
NUM_FLIC_JOINTS = len(FLIC_JOINT_NAMES)
HEAD_SOURCES: tuple[int, ...] = (12, 13, 16)  # leye, reye, nose -> head = their mean.
# Our joints 1..6 (right_wrist .. left_shoulder) <- FLIC column (0-based).
ARM_SOURCES: tuple[int, ...] = (5, 2, 4, 1, 3, 0)
BOX_MARGIN = 0.15  # joint-derived box grows by this fraction of its larger side, each side.
REQUIRED_FIELDS: tuple[str, ...] = ("moviename", "coords", "currframe", "istrain", "istest")
MAT_VARIABLE = "examples"
_HINT = ("download FLIC.zip / FLIC-full.zip from https://bensapp.github.io/flic-dataset.html "
         "and unzip it into --manual_dir")


class FlicConfig(tfds.core.BuilderConfig):
  """Which archive: ``folder`` (FLIC or FLIC-full) and its published size."""

  def __init__(self, *, folder: str, num_examples: int, **kwargs):
    super().__init__(**kwargs)
    self.folder = folder
    self.num_examples = num_examples


def to_ours(coords_0based: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """FLIC [29, 2] 0-based px (NaN = unlabelled) -> ours [7, 2] NaN-masked, visible [7]."""
  out = np.full((joints_lib.NUM_JOINTS, 2), np.nan, np.float32)
  head = coords_0based[list(HEAD_SOURCES)]
  if np.isfinite(head).all():
    out[0] = head.mean(0)
  out[1:] = coords_0based[list(ARM_SOURCES)]
  return joints_lib.mask_missing(out)


def load_examples(mat_path: epath.Path) -> list:
  """Reads ``examples`` from examples.mat as a list of scipy ``mat_struct`` (fields by name)."""
  return common.load_mat_struct(mat_path, MAT_VARIABLE, REQUIRED_FIELDS, "FLIC's examples.mat",
                                _HINT)


def _field(ex, name, default=None):
  return getattr(ex, name, default) if name in ex._fieldnames else default


def _flag(ex, name) -> bool:
  value = np.asarray(_field(ex, name, 0))
  return bool(value.size and value.reshape(-1)[0])


class Flic(common.PoseBuilderMixin, tfds.core.GeneratorBasedBuilder):
  """FLIC / FLIC-full still frames with FLIC's 29-point annotation."""

  CODE_FILE = __file__
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [
      FlicConfig(name="small", folder="FLIC", num_examples=5003,
                 description="FLIC.zip: the 5003-example MODEC set."),
      FlicConfig(name="full", folder="FLIC-full", num_examples=20928,
                 description="FLIC-full.zip: 20928 examples, a superset with harder frames."),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Download FLIC.zip (config `small`) and/or FLIC-full.zip (config `full`) from
  https://bensapp.github.io/flic-dataset.html and unzip into manual_dir, giving
  <manual_dir>/FLIC/examples.mat + <manual_dir>/FLIC/images/*.jpg (and/or
  <manual_dir>/FLIC-full/...). manual_dir may also be the FLIC folder itself.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    extra = {
        "joints_full": tfds.features.Tensor(shape=(NUM_FLIC_JOINTS, 2), dtype=np.float32),
        "visible_full": tfds.features.Tensor(shape=(NUM_FLIC_JOINTS,), dtype=np.bool_),
        "box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
        "isbad": tfds.features.Tensor(shape=(), dtype=np.bool_),
        "isunchecked": tfds.features.Tensor(shape=(), dtype=np.bool_),
        "filename": tfds.features.Text(),
    }
    return tfds.core.DatasetInfo(
        builder=self, description=__doc__, features=common.pose_features(extra),
        disable_shuffling=True, homepage="https://bensapp.github.io/flic-dataset.html")

  def _root(self, dl_manager) -> epath.Path:
    folder = self.builder_config.folder
    manual = common.existing_manual_dir(
        dl_manager, "FLIC", f"{_HINT} (giving <manual_dir>/{folder}/examples.mat) and pass --manual_dir")
    return common.archive_root(manual, folder, "examples.mat", _HINT)

  def _split_generators(self, dl_manager):
    root = self._root(dl_manager)
    examples = load_examples(root / "examples.mat")
    if len(examples) != self.builder_config.num_examples:
      log.warning("%s has %d examples; the published %s has %d", root / "examples.mat",
                  len(examples), self.builder_config.folder, self.builder_config.num_examples)
    movies = sorted({str(_field(ex, "moviename")) for ex in examples})
    return {
        "train": self._generate_examples(root, examples, movies, "istrain"),
        "test": self._generate_examples(root, examples, movies, "istest"),
    }

  def _generate_examples(self, root: epath.Path, examples: list, movies: list[str], flag: str):
    mat_path = root / "examples.mat"
    for index, ex in enumerate(examples):
      if not _flag(ex, flag):
        continue
      movie = str(_field(ex, "moviename"))
      frame = int(np.asarray(_field(ex, "currframe")).reshape(-1)[0])
      filename = _field(ex, "filepath")
      filename = str(filename) if filename is not None and np.size(filename) else (
          f"{movie}-{frame:08d}.jpg")
      image_path = root / "images" / filename
      if not image_path.exists():
        raise InputError(f"{image_path} (listed in {mat_path}, example {index + 1}) not found: "
                         f"unzip the whole archive's images/ folder: {_HINT}")
      jpeg = common.image_bytes(image_path)
      coords = np.asarray(_field(ex, "coords"), np.float64)
      if coords.shape != (2, NUM_FLIC_JOINTS):
        raise InputError(f"{mat_path}: example {index + 1} coords has shape {coords.shape}, "
                         f"expected (2, {NUM_FLIC_JOINTS}); {_HINT}")
      full = (coords.T - 1.0).astype(np.float32)  # MATLAB 1-based -> 0-based, once.
      full, vis_full = joints_lib.mask_missing(full)
      joints, visible = to_ours(full)
      torso = np.asarray(_field(ex, "torsobox", []), np.float64).reshape(-1)
      if torso.size == 4 and np.isfinite(torso).all():
        box = (torso - 1.0).astype(np.float32)
      else:
        hw = _image_hw(jpeg, image_path)
        box = common.box_from_joints(full, vis_full, hw, margin=BOX_MARGIN)
      yield index, {
          "image": jpeg,
          "joints": joints,
          "visible": visible,
          "joints_full": full,
          "visible_full": vis_full,
          "box": box,
          "isbad": _flag(ex, "isbad"),
          "isunchecked": _flag(ex, "isunchecked"),
          "video_id": np.int32(movies.index(movie)),
          "frame_index": np.int32(frame),
          "filename": filename,
      }


def _image_hw(jpeg: bytes, path) -> tuple[int, int]:
  image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
  if image is None:
    raise InputError(f"{path}: not a decodable image; re-download it")
  return image.shape[:2]
