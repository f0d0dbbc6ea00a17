"""``poses_in_the_wild``: Poses in the Wild (Cherian, Mairal, Alahari, Schmid, CVPR 2014).

Reads the published archive ``poses_in_the_wild_public.tar.gz`` extracted into
``manual_dir`` (``<manual_dir>/poses_in_the_wild_public/`` or that folder itself):
``poses_in_the_wild_data.mat`` (variable ``piw_data``, 1×N struct with ``im`` —
the frame path relative to the archive root —, ``point`` 8×2 (x, y) and
``visible`` 8 flags) and the frames ``selected_seqs/seqNN/<Movie>-<a>-<b>-<frame>.png``.
Sources: qxcv/joint-regressor ``datasets/get_piw.m`` (and ``get_piw_full.m``).
Test-only dataset: one split, ``test``.

PiW joints (1-based): 1 neck ("more like chin"), 2 L shoulder, 3 L elbow,
4 L wrist, 5 R shoulder, 6 R elbow, 7 R wrist, 8 torso; names are taken as the
person's side (loader comments; UNCERTAIN, not checked on a frame here).

Coordinates: MATLAB 1-based (assumed, as for all MATLAB files here; UNCERTAIN):
1 is subtracted once. Invisible joints are [-1, -1] in the file; the converse
does not always hold (some joints flagged invisible still carry coordinates).

Mapping to ours (head, R wri, L wri, R elb, L elb, R sho, L sho):
  head           = MISSING (NaN, visible False). DECISION: PiW has no head
                   point; its neck/chin point lies about half a head below a
                   head centre, so using it would bias head PCK. The paper
                   reports PiW for wrists and elbows. The chin is kept in
                   ``joints_full[0]``.
  right_wrist = 7, left_wrist = 4, right_elbow = 6, left_elbow = 3,
  right_shoulder = 5, left_shoulder = 2 (1-based PiW indices).
A core joint is visible iff its flag is set and it is not [-1, -1].

Features (``common.pose_features`` core plus):
  joints_full: [8, 2] float32 0-based px in ``PIW_JOINT_NAMES`` order; NaN only
    where the file has [-1, -1] (invisible-flagged joints keep their coordinates).
  visible_full: [8] bool, the file's flag and not [-1, -1].
  box: [4] float32 x0, y0, x1, y1: extent of the visible joints (all 8) grown by
    ``BOX_MARGIN`` × its larger side on each side, clipped to the frame (PiW has
    no person box); the whole frame if fewer than two joints are visible.
  video_id: the NN of ``seqNN``; frame_index: the last number of the file name.
  filename: ``im`` as stored (relative path).
Record order: ``piw_data`` order (``disable_shuffling``), i.e. sequences in
frame order; note two in-sequence jumps (seq20 235→279, seq73 89→123).
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from flowpose_jax.data_builders import common
from flowpose_jax import joints as joints_lib
from flowpose_jax.errors import InputError

PIW_JOINT_NAMES: tuple[str, ...] = (
    "neck_chin", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
    "right_wrist", "torso")
NUM_PIW_JOINTS = len(PIW_JOINT_NAMES)
# Our joints 0..6 <- PiW index (0-based); None = no such point (head).
SOURCES: tuple[int | None, ...] = (None, 6, 3, 5, 2, 4, 1)
INVISIBLE_SENTINEL = -1.0
BOX_MARGIN = 0.15  # fraction of the joint box's larger side added on each side.
MAT_NAME = "poses_in_the_wild_data.mat"
ARCHIVE_FOLDER = "poses_in_the_wild_public"
MAT_VARIABLE = "piw_data"
REQUIRED_FIELDS: tuple[str, ...] = ("im", "point", "visible")
_NAME_RE = re.compile(r"seq(\d+)[/\\][^/\\]*?(\d+)\.\w+$")
_HINT = ("download poses_in_the_wild_public.tar.gz from "
         "https://lear.inrialpes.fr/research/posesinthewild/ and extract it into --manual_dir")


def to_ours(full_0based: np.ndarray, visible_full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """PiW [8, 2] 0-based, [8] bool -> ours [7, 2] (NaN where missing), [7] bool."""
  out = np.full((joints_lib.NUM_JOINTS, 2), np.nan, np.float32)
  vis = np.zeros(joints_lib.NUM_JOINTS, bool)
  for k, src in enumerate(SOURCES):
    if src is not None:
      out[k], vis[k] = full_0based[src], visible_full[src]
  return joints_lib.mask_missing(out, vis)


def seq_and_frame(im: str) -> tuple[int, int]:
  """``selected_seqs/seq07/The-Terminal-3768-3785-00235.png`` -> (7, 235)."""
  match = _NAME_RE.search(im)
  if match is None:
    raise InputError(f"frame path {im!r} in {MAT_NAME} is not selected_seqs/seqNN/<name>-<frame>.png; "
                     f"{_HINT}")
  return int(match.group(1)), int(match.group(2))


def load_piw(mat_path: epath.Path) -> list:
  """``piw_data`` from the .mat as a list of scipy ``mat_struct`` (fields by name)."""
  return common.load_mat_struct(mat_path, MAT_VARIABLE, REQUIRED_FIELDS,
                                f"Poses in the Wild's {MAT_NAME}", _HINT)


class PosesInTheWild(common.PoseBuilderMixin, tfds.core.GeneratorBasedBuilder):
  """Poses in the Wild: 30 movie sequences, 8 upper-body points per frame (test only)."""

  CODE_FILE = __file__
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Download poses_in_the_wild_public.tar.gz from
  https://lear.inrialpes.fr/research/posesinthewild/ and extract it into
  manual_dir, giving <manual_dir>/poses_in_the_wild_public/poses_in_the_wild_data.mat
  and <manual_dir>/poses_in_the_wild_public/selected_seqs/seqNN/*.png.
  manual_dir may also be the poses_in_the_wild_public folder itself.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    extra = {
        "joints_full": tfds.features.Tensor(shape=(NUM_PIW_JOINTS, 2), dtype=np.float32),
        "visible_full": tfds.features.Tensor(shape=(NUM_PIW_JOINTS,), dtype=np.bool_),
        "box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
        "filename": tfds.features.Text(),
    }
    return tfds.core.DatasetInfo(
        builder=self, description=__doc__, features=common.pose_features(extra),
        disable_shuffling=True, homepage="https://lear.inrialpes.fr/research/posesinthewild/")

  def _root(self, dl_manager) -> epath.Path:
    manual = common.existing_manual_dir(dl_manager, "Poses in the Wild", f"{_HINT} and pass --manual_dir")
    return common.archive_root(manual, ARCHIVE_FOLDER, MAT_NAME, _HINT)

  def _split_generators(self, dl_manager):
    root = self._root(dl_manager)
    return {"test": self._generate_examples(root, load_piw(root / MAT_NAME))}

  def _generate_examples(self, root: epath.Path, data: list):
    mat_path = root / MAT_NAME
    for index, d in enumerate(data):
      im = str(d.im).replace("\\", "/")
      seq, frame = seq_and_frame(im)
      image_path = root / im.removeprefix("./")
      if not image_path.exists():
        raise InputError(f"{image_path} (listed in {mat_path}, entry {index + 1}) not found: "
                         f"extract the whole archive: {_HINT}")
      jpeg = common.image_bytes(image_path)
      point = np.asarray(d.point, np.float64)
      flags = np.asarray(d.visible).reshape(-1).astype(bool)
      if point.shape != (NUM_PIW_JOINTS, 2) or flags.shape != (NUM_PIW_JOINTS,):
        raise InputError(f"{mat_path}: entry {index + 1} has point {point.shape} / visible "
                         f"{flags.shape}, expected (8, 2) / (8,); {_HINT}")
      sentinel = (point == INVISIBLE_SENTINEL).all(-1)
      full = (point - 1.0).astype(np.float32)  # MATLAB 1-based -> 0-based, once.
      full[sentinel] = np.nan
      full, vis_full = joints_lib.mask_missing(full)
      vis_full &= flags
      joints, visible = to_ours(full, vis_full)
      image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
      yield index, {
          "image": jpeg,
          "joints": joints,
          "visible": visible,
          "joints_full": full,
          "visible_full": vis_full,
          "box": common.box_from_joints(full, vis_full, image.shape[:2], margin=BOX_MARGIN),
          "video_id": np.int32(seq),
          "frame_index": np.int32(frame),
          "filename": im,
      }
