"""``chalearn``: ChaLearn 2013 Multi-modal Gesture (Montalbano; Escalera et al., ICMI 2013).

Reads the user's extracted download from ``manual_dir``:
``trainingdata/`` → split ``train``, ``validationdata/`` → ``validation``,
``testdata/`` → ``test`` (each present folder becomes a split). Each holds one
folder per sequence (``SampleXXXXX/``, i.e. the unzipped ``SampleXXXXX.zip``) or
the files directly:
  2013: ``SampleXXXXX_data.mat`` — struct ``Video`` with ``NumFrames``,
    ``FrameRate`` (20), ``Frames(i).Skeleton`` with ``PixelPosition`` (20×2,
    px in the RGB frame), ``JointType``, ``WorldPosition``, ... — and
    ``SampleXXXXX_color.mp4`` [kschlegel/DatasetLoader ``chalearn2013.py``];
  2014 (Track 3 re-release): ``SampleNNNN_skeleton.csv`` (one row per frame,
    20 joints × 9 numbers: world x, y, z, rotation ×4, pixel x, y) and
    ``SampleNNNN_color.mp4`` [stevenwudi/CVPR_2014_code ``ChalearnLAPSample.py``].
Still-zipped samples are refused with a message (unzip them first).

GT is Kinect skeleton TRACKING, not manual annotation (paper §5.1).

Coordinates: ``PixelPosition`` is the Kinect SDK's pixel position, already
0-based (the organisers' Python reader draws the csv pixel values unchanged),
so NO 1 is subtracted (UNCERTAIN: not checked on a real frame). Frame ``i``
(1-based in ``Frames``/csv rows) is video frame ``i - 1``; ``frame_index`` is
that 0-based frame number.

Joint order (Kinect SDK v1, 1-based): 1 HipCenter, 2 Spine, 3 ShoulderCenter,
4 Head, 5 ShoulderLeft, 6 ElbowLeft, 7 WristLeft, 8 HandLeft, 9 ShoulderRight,
10 ElbowRight, 11 WristRight, 12 HandRight, 13 HipLeft, 14 KneeLeft,
15 AnkleLeft, 16 FootLeft, 17 HipRight, 18 KneeRight, 19 AnkleRight, 20 FootRight.
Ours (head, R wri, L wri, R elb, L elb, R sho, L sho) = Kinect [4, 11, 7, 10, 6, 9, 5]
(1-based). Kinect "Left" is the user's left; the colour video is assumed NOT
mirrored (UNCERTAIN: draw a frame before trusting it).

Skipped: frames whose skeleton is all zeros or empty (no tracking; sequences
223, 225, 228, 629-639 lack most). A single joint at exactly (0, 0) in a tracked
frame is marked missing (NaN, invisible). Sampling: every ``frame_step``-th
frame (a config field; ``sampled``: 10 = 2 frames/s, the default, since
decoding every frame is heavy; ``every_frame``: 1, for temporal windows).

Features (``common.pose_features`` core plus):
  joints_full: [20, 2] float32 0-based px in ``KINECT_JOINT_NAMES`` order, NaN
    where missing; visible_full: [20] bool.
  box: [4] float32 x0, y0, x1, y1: extent of the visible Kinect joints grown by
    ``BOX_MARGIN`` × its larger side on each side, clipped (no dataset box).
  video_id: the sample number XXXXX; frame_index: 0-based video frame.
Record order: samples sorted by number, frames in order (``disable_shuffling``);
key = sample * 100000 + frame.
"""

from __future__ import annotations

import csv
import os
import re

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from flowpose_jax.data_builders import common
from flowpose_jax import joints as joints_lib
from flowpose_jax.errors import InputError

KINECT_JOINT_NAMES: tuple[str, ...] = (
    "HipCenter", "Spine", "ShoulderCenter", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft",
    "HandLeft", "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft",
    "AnkleLeft", "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight")
NUM_KINECT_JOINTS = len(KINECT_JOINT_NAMES)
OURS_FROM_KINECT_1BASED: tuple[int, ...] = (4, 11, 7, 10, 6, 9, 5)
SPLIT_FOLDERS: dict[str, str] = {"train": "trainingdata", "validation": "validationdata",
                                 "test": "testdata"}
CSV_VALUES_PER_JOINT = 9   # world x, y, z; rotation (4); pixel x, y.
CSV_PIXEL_OFFSET = 7
BOX_MARGIN = 0.15
_KEY_STRIDE = 100_000
_SAMPLE_RE = re.compile(r"Sample(\d+)_(data\.mat|skeleton\.csv)$")
_HINT = ("download the ChaLearn 2013 Multi-modal Gesture data (trainingdata/, validationdata/) "
         "from https://gesture.chalearn.org/, unzip every SampleXXXXX.zip in place, and pass "
         "--manual_dir")


class ChalearnConfig(tfds.core.BuilderConfig):
  """``frame_step``: keep every k-th video frame (1 = all)."""

  def __init__(self, *, frame_step: int, **kwargs):
    super().__init__(**kwargs)
    if frame_step < 1:
      raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    self.frame_step = frame_step


def to_ours(full: np.ndarray, visible_full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Kinect [20, 2], [20] -> ours [7, 2] NaN-masked, [7] bool."""
  idx = [k - 1 for k in OURS_FROM_KINECT_1BASED]
  return joints_lib.mask_missing(full[idx], visible_full[idx])


def _pixels_to_joints(pixels) -> tuple[np.ndarray, np.ndarray] | None:
  """[20, 2] pixel positions -> (joints, visible), or None when untracked (all zero/empty)."""
  p = np.asarray(pixels, np.float64)
  if p.size == 0 or not np.any(p):
    return None
  if p.shape != (NUM_KINECT_JOINTS, 2):
    raise ValueError(f"PixelPosition shape {p.shape}, expected ({NUM_KINECT_JOINTS}, 2)")
  full = p.astype(np.float32)
  full[(p == 0).all(-1)] = np.nan
  return joints_lib.mask_missing(full)


def read_skeletons_mat(path: epath.Path) -> list:
  """``SampleXXXXX_data.mat`` -> per frame (0-based index) (joints [20,2], visible [20]) or None."""
  video = common.load_mat_struct(path, "Video", ("Frames",), "a ChaLearn 2013 _data.mat", _HINT,
                                 unreadable_hint="re-extract it from its SampleXXXXX.zip")[0]
  out = []
  for i, frame in enumerate(np.atleast_1d(video.Frames)):
    skeleton = getattr(frame, "Skeleton", None)
    pixels = getattr(skeleton, "PixelPosition", None) if skeleton is not None else None
    try:
      out.append(None if pixels is None else _pixels_to_joints(pixels))
    except ValueError as e:
      raise InputError(f"{path}: frame {i + 1}: {e}; re-extract the sample") from None
  return out


def read_skeletons_csv(path: epath.Path) -> list:
  """2014 ``SampleNNNN_skeleton.csv`` -> same as ``read_skeletons_mat``."""
  out = []
  with open(path, newline="") as f:
    for row_index, row in enumerate(csv.reader(f)):
      try:
        values = np.array([float(v) for v in row if v.strip() != ""], np.float64)
        values = values.reshape(NUM_KINECT_JOINTS, CSV_VALUES_PER_JOINT)
      except ValueError:
        raise InputError(f"{path}: row {row_index + 1} is not {NUM_KINECT_JOINTS}×"
                         f"{CSV_VALUES_PER_JOINT} numbers; re-extract the sample") from None
      pixels = values[:, CSV_PIXEL_OFFSET:CSV_PIXEL_OFFSET + 2]
      out.append(_pixels_to_joints(pixels))
  return out


def find_samples(split_dir: epath.Path) -> list[tuple[int, epath.Path, epath.Path]]:
  """(sample number, skeleton file, colour video) per sample, sorted by number."""
  found = {}
  # Flat files or one folder per sample (two levels; epath has no recursive glob).
  for path in sorted([*split_dir.glob("Sample*"), *split_dir.glob("Sample*/Sample*")]):
    match = _SAMPLE_RE.search(path.name)
    if match:
      number = int(match.group(1))
      # A 2013 .mat wins over a csv for the same sample.
      if number not in found or path.name.endswith(".mat"):
        found[number] = path
  if not found:
    if list(split_dir.glob("Sample*.zip")):
      raise InputError(f"{split_dir} holds only zipped samples: unzip each SampleXXXXX.zip in "
                       f"place (giving SampleXXXXX/SampleXXXXX_data.mat) and rebuild")
    raise InputError(f"{split_dir}: no SampleXXXXX_data.mat or _skeleton.csv found; {_HINT}")
  samples = []
  for number, skel in sorted(found.items()):
    stem = skel.name[: skel.name.rindex("_")]
    video = skel.parent / f"{stem}_color.mp4"
    if not video.exists():
      raise InputError(f"{video} not found (next to {skel.name}): re-extract the sample's zip")
    samples.append((number, skel, video))
  return samples


class Chalearn(common.PoseBuilderMixin, tfds.core.GeneratorBasedBuilder):
  """ChaLearn 2013 gesture videos with Kinect skeletons, one example per kept frame."""

  CODE_FILE = __file__
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [
      ChalearnConfig(name="sampled", frame_step=10,
                     description="Every 10th frame (2 frames/s at 20 fps)."),
      ChalearnConfig(name="every_frame", frame_step=1,
                     description="Every frame with a skeleton (heavy; for temporal windows)."),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Register at https://gesture.chalearn.org/ (2013 Multi-modal Gesture Challenge,
  "Montalbano") and download the training and validation data. Put them in
  manual_dir as trainingdata/ and validationdata/ (and testdata/ if you have it)
  and unzip every SampleXXXXX.zip in place, giving e.g.
  <manual_dir>/trainingdata/Sample00001/Sample00001_data.mat and
  <manual_dir>/trainingdata/Sample00001/Sample00001_color.mp4.
  The 2014 re-release (SampleNNNN_skeleton.csv + _color.mp4) is read the same way.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    extra = {
        "joints_full": tfds.features.Tensor(shape=(NUM_KINECT_JOINTS, 2), dtype=np.float32),
        "visible_full": tfds.features.Tensor(shape=(NUM_KINECT_JOINTS,), dtype=np.bool_),
        "box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
    }
    return tfds.core.DatasetInfo(
        builder=self, description=__doc__, features=common.pose_features(extra),
        disable_shuffling=True,
        homepage="https://gesture.chalearn.org/2013-multi-modal-challenge")

  def _split_generators(self, dl_manager):
    manual = common.existing_manual_dir(dl_manager, "ChaLearn", _HINT)
    splits = {split: manual / folder for split, folder in SPLIT_FOLDERS.items()
              if (manual / folder).is_dir()}
    if not splits:
      raise InputError(f"{manual}: none of {sorted(SPLIT_FOLDERS.values())} found; {_HINT}")
    return {split: self._generate_examples(find_samples(folder))
            for split, folder in splits.items()}

  def _generate_examples(self, samples):
    step = self.builder_config.frame_step
    for number, skel_path, video_path in samples:
      skeletons = (read_skeletons_mat(skel_path) if skel_path.name.endswith(".mat")
                   else read_skeletons_csv(skel_path))
      wanted = {t for t in range(0, len(skeletons), step) if skeletons[t] is not None}
      if not wanted:
        continue
      capture = cv2.VideoCapture(os.fspath(video_path))
      if not capture.isOpened():
        raise InputError(f"{video_path}: cannot open the video (corrupt or unsupported "
                         f"codec); re-extract the sample")
      try:
        last = max(wanted)
        for t in range(last + 1):
          if not capture.grab():
            raise InputError(f"{video_path}: ended or failed to decode at frame {t} but "
                             f"{skel_path.name} has a skeleton for frame {last}; re-extract it")
          if t not in wanted:
            continue
          ok, frame = capture.retrieve()
          if not ok:
            raise InputError(f"{video_path}: frame {t} failed to decode; re-extract it")
          full, vis_full = skeletons[t]
          joints, visible = to_ours(full, vis_full)
          yield number * _KEY_STRIDE + t, {
              "image": common.encode_jpeg(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB),
                                          name=f"{video_path} frame {t}"),
              "joints": joints,
              "visible": visible,
              "joints_full": full,
              "visible_full": vis_full,
              "box": common.box_from_joints(full, vis_full, frame.shape[:2], margin=BOX_MARGIN),
              "video_id": np.int32(number),
              "frame_index": np.int32(t),
          }
      finally:
        capture.release()
