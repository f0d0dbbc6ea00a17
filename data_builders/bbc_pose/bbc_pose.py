"""``bbc_pose``: BBC Pose / Extended BBC Pose frames with 7 upper-body joints.

Reads the user's download (see ``MANUAL_DOWNLOAD_INSTRUCTIONS`` and
README.md): ``<manual_dir>/bbcpose.mat`` (or ``<manual_dir>/code/bbcpose.mat``) and the frames
``<manual_dir>/<folder>/<frame>.jpg``. Build and read without TensorFlow::

  import flowpose_jax.data_builders.bbc_pose as bp
  bp.build("original", data_dir, manual_dir)          # download_and_prepare
  src = tfds.data_source("bbc_pose/original", split="test", data_dir=data_dir)

``bbcpose.mat`` (MATLAB v5): variable ``bbcpose``, a 1×92 struct array with
fields ``videoName, type ('train'|'val'|'test'), source, train_frames,
train_joints [2, 7, N], test_frames, test_joints [2, 7, 200]``. Entries 1..20
are BBC Pose (10 train, 5 val, 5 test per ``type``); entries 21..92 are the 72
Extended BBC Pose videos (noisy automatic labels, ``type`` 'train').

Splits (``type`` decides; ``extended`` adds entries >= ``NUM_ORIGINAL``):
  train: ``train_frames``/``train_joints`` of every 'train' entry;
  validation / test: the 200 manual ``test_frames``/``test_joints`` of every
    'val' / 'test' entry (their automatic ``train_*`` labels are not used).

Folder of struct entry i (0-based): ``<manual_dir>/<i+1>/`` if it exists (the
layout of VGG's frame archive as mmpose's TopDownVGGBBCDataset reads it), else
``<manual_dir>/<videoName>/``. Frame k is ``<folder>/<k>.jpg`` (no zero
padding, k = the MATLAB frame number in ``*_frames``).

Coordinates: MATLAB 1-based in the file; stored 0-based (``x - 1``, once,
here). Missing joints: a 1-based coordinate that is non-finite, the sentinel
-999 or <= 0 (off the frame's first pixel) -> NaN and ``visible`` False.

Record order: ``disable_shuffling=True`` and key = ``video_id * KEY_STRIDE +
frame``, so records are sorted by (struct index, frame number): a temporal
window of one video is a run of consecutive indices (train videos are labelled
on every frame; check ``frame_index`` differences for gaps).

Features:
  image: [H, W, 3] uint8 RGB JPEG (frames passed through unchanged), or
    [S, S, 3] for ``*_crops<S>`` configs (re-encoded crop).
  joints: [7, 2] float32 (x, y) px of ``image``, 0-based, NaN where missing.
  visible: [7] bool.
  box: [4] float32 x0, y0, x1, y1 px of ``image``: the video's person box (see
    ``video_box``; one box per video, so a temporal window shares its crop).
  crop_matrix: [2, 3] float32 frame -> ``image`` affine (identity for full
    frames); map predictions back to frame px with its inverse.
  joints_frame: [7, 2] float32 the joints in original frame px.
  video_id: int32 struct index (0-based); frame_index: int32 MATLAB frame number
    (= the jpg's file name).
  video_name: Text ``videoName``; label_source: Text ``source`` (both read
    back as bytes).
  annotated: bool, False only for the unannotated neighbour frames that
    ``*_ctx<n>`` configs add around val/test frames (joints NaN, visible False).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Iterator

import cv2
import numpy as np
import tensorflow_datasets as tfds

from flowpose_jax.data_builders import common
from flowpose_jax import heatmaps
from flowpose_jax import joints as joints_lib
from flowpose_jax.errors import ConfigError, InputError

log = logging.getLogger("flowpose")

MAT_NAME = "bbcpose.mat"
MAT_VAR = "bbcpose"
MAT_SUBDIR = "code"  # alternative location of bbcpose.mat inside manual_dir
REQUIRED_FIELDS = ("videoName", "type", "source", "train_frames", "train_joints", "test_frames",
                   "test_joints")
NUM_ORIGINAL = 20  # struct entries 0..19 are BBC Pose; the rest Extended BBC Pose.
TYPE_TO_SPLIT = {"train": "train", "val": "validation", "test": "test"}
SPLITS = ("train", "validation", "test")
KEY_STRIDE = 10_000_000  # > any frame number (1 h at 25 fps = 90,000)
BOX_PAD_SHOULDERS = 0.5  # box pad per side, x the video's median shoulder distance
BOX_PAD_FALLBACK = 0.1  # ... or x the frame's longer side when no shoulder pair is visible
CROP_CONTEXT = 0.3  # crop configs: crop = video box grown by this x its size per side
BEAM_CHUNK_FRAMES = 500  # frames per Beam work item
HOMEPAGE = "https://www.robots.ox.ac.uk/~vgg/data/pose/"

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Register and download BBC Pose from the VGG BBC Pose page, {HOMEPAGE}
(BBC Pose / Extended BBC Pose). Put into manual_dir:
  bbcpose.mat                      (the annotation file, variable `bbcpose`)
  <i>/<frame>.jpg  for i = 1..92   (the frame folders as extracted; folders named
                                   by videoName instead of the 1-based index also work)
Then: flowpose data build bbc_pose/original --manual_dir <manual_dir>
"""


class BbcPoseConfig(tfds.core.BuilderConfig):
  """Which videos go in train, and optional stored person-centred crops."""

  def __init__(self, *, name: str, extended: bool, crop_size: int = 0, context: int = 0, **kwargs):
    """Args: extended: add the Extended BBC Pose videos to train; crop_size: 0 =
    full frames, else store S×S crops around each video's person box; context:
    also store the unannotated frames within ±context of every validation/test
    frame (``annotated`` False, joints NaN) so temporal models see neighbours."""
    super().__init__(name=name, **kwargs)
    self.extended = extended
    self.crop_size = crop_size
    self.context = context


CONFIGS: tuple[BbcPoseConfig, ...] = (
    BbcPoseConfig(name="original", extended=False,
                  description="BBC Pose: 10 train / 5 val / 5 test videos, full frames."),
    BbcPoseConfig(name="extended", extended=True,
                  description="BBC Pose + 72 Extended BBC Pose train videos (automatic labels), full frames."),
    BbcPoseConfig(name="original_crops256", extended=False, crop_size=256,
                  description="As `original`, stored as 256x256 person-centred crops."),
    BbcPoseConfig(name="extended_crops256", extended=True, crop_size=256,
                  description="As `extended`, stored as 256x256 person-centred crops."),
    BbcPoseConfig(name="original_ctx14", extended=False, context=14,
                  description="As `original`, plus the unannotated frames within ±14 of each val/test frame."),
    BbcPoseConfig(name="extended_ctx14", extended=True, context=14,
                  description="As `extended`, plus the unannotated frames within ±14 of each val/test frame."),
)


@dataclasses.dataclass(frozen=True)
class VideoTask:
  """One video's (or a chunk of one video's) frames to write; picklable for Beam.

  frames: [N] int MATLAB frame numbers; joints: [N, 7, 2] float32 0-based frame
  px (NaN missing); visible: [N, 7] bool; annotated: [N] bool (False: a
  context frame); box: [4] frame px.
  """
  video_id: int
  name: str
  source: str
  folder: str
  frames: np.ndarray
  joints: np.ndarray
  visible: np.ndarray
  annotated: np.ndarray
  box: np.ndarray
  crop_size: int


# ----------------------------------------------------------------------------- mat reading

def _text(value) -> str:
  arr = np.asarray(value)
  if arr.size == 0:
    return ""
  if arr.dtype.kind in "US":
    return "".join(str(s) for s in arr.ravel()).strip()
  return str(arr.ravel()[0]).strip()


def _frames(value, where: str) -> np.ndarray:
  arr = np.asarray(value, dtype=np.float64).ravel()
  if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)) or np.any(arr < 1):
    raise InputError(f"{where}: frame numbers must be positive integers; the file is damaged, re-download it")
  return arr.astype(np.int64)


def _joints(value, n: int, where: str) -> np.ndarray:
  """[2, 7, N] (N may be squeezed away) -> [N, 7, 2] float64, 1-based as stored."""
  arr = np.asarray(value, dtype=np.float64)
  nj = joints_lib.NUM_JOINTS
  if arr.size != 2 * nj * n:
    raise InputError(f"{where}: joints have shape {arr.shape}, expected [2, {nj}, {n}] to match the "
                     f"frame list; the file is damaged or not BBC Pose, re-download it")
  return arr.reshape(2, nj, n).transpose(2, 1, 0)


def to_zero_based(joints_1b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """MATLAB 1-based joints -> 0-based, missing ones masked.

  Args:
    joints_1b: [..., 7, 2] float (x, y) 1-based px as stored in bbcpose.mat.

  Returns:
    joints [..., 7, 2] float32 0-based (NaN where missing), visible [..., 7] bool.
    Missing = ``joints_lib.joints_present`` False (non-finite, <= -999) or <= 0
    (off the first pixel) in either 1-based coordinate.
  """
  j = np.asarray(joints_1b, np.float64)
  masked, vis = joints_lib.mask_missing(j)
  with np.errstate(invalid="ignore"):
    vis = vis & np.all(masked > 0, axis=-1)
  masked[~vis] = np.nan
  return (masked - 1.0).astype(np.float32), vis


def read_annotations(mat_path) -> list[dict[str, Any]]:
  """Reads bbcpose.mat into one dict per struct entry (index order).

  Returns dicts with keys index, name, type, source, train_frames [N] int,
  train_joints [N, 7, 2] (1-based, raw), test_frames, test_joints.
  """
  mat_path = str(mat_path)
  fix = "re-download bbcpose.mat from the VGG BBC Pose page into manual_dir"
  struct = common.load_mat_struct(mat_path, MAT_VAR, REQUIRED_FIELDS, "BBC Pose's annotation file",
                                  fix, as_record=True)
  entries = []
  for i, e in enumerate(struct.ravel()):
    where = f"{mat_path} entry {i + 1}"
    name = _text(e["videoName"])
    typ = _text(e["type"]).lower()
    if typ not in TYPE_TO_SPLIT:
      raise InputError(f"{where} ({name}): type {typ!r} is not one of {sorted(TYPE_TO_SPLIT)}; {fix}")
    entry = {"index": i, "name": name, "type": typ, "source": _text(e["source"])}
    for part in ("train", "test"):
      frames = _frames(e[f"{part}_frames"], f"{where} {part}_frames")
      entry[f"{part}_frames"] = frames
      entry[f"{part}_joints"] = _joints(e[f"{part}_joints"], len(frames), f"{where} {part}_joints")
    entries.append(entry)
  return entries


# ----------------------------------------------------------------------------- boxes, crops

def video_box(joints: np.ndarray, visible: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
  """One person box for a whole video, from its joints.

  Rule: the extent (min/max) of all visible joints over the video, padded on
  every side by ``BOX_PAD_SHOULDERS`` x the median shoulder distance (head top
  and hands lie beyond the head centre and wrists), or by ``BOX_PAD_FALLBACK``
  x the frame's longer side when no frame has both shoulders; clipped to the
  frame. No visible joint at all -> the whole frame.

  Args:
    joints: [N, 7, 2] 0-based frame px (NaN missing); visible: [N, 7] bool;
    frame_hw: (H, W).

  Returns: [4] float32 (x0, y0, x1, y1), x1 > x0 and y1 > y0.
  """
  h, w = frame_hw
  both = visible[:, 5] & visible[:, 6]
  if both.any():
    pad = BOX_PAD_SHOULDERS * float(np.median(np.linalg.norm(joints[both, 5] - joints[both, 6], axis=-1)))
  else:
    pad = BOX_PAD_FALLBACK * max(h, w)
  box = common.box_from_joints(joints, visible, frame_hw, pad=max(pad, 1.0), min_points=1)
  if not (box[2] > box[0] and box[3] > box[1]):
    return np.array([0, 0, w - 1, h - 1], np.float32)
  return box


def crop_matrix_for(box: np.ndarray, frame_hw: tuple[int, int], crop_size: int) -> np.ndarray:
  """[2, 3] frame -> S×S crop affine around ``box`` grown by ``CROP_CONTEXT`` per side.

  The extra context leaves room for the pipeline's own box margin and its
  scale/rotation/translation augmentation; pixels beyond the frame are black.
  """
  x0, y0, x1, y1 = (float(v) for v in box)
  mx, my = CROP_CONTEXT * (x1 - x0 + 1), CROP_CONTEXT * (y1 - y0 + 1)
  return heatmaps.letterbox_matrix(frame_hw, np.array([x0 - mx, y0 - my, x1 + mx, y1 + my]), crop_size)


def _box_through(matrix: np.ndarray, box: np.ndarray) -> np.ndarray:
  """An axis-aligned box through a scale+translate affine (pixel-centre corners)."""
  corners = heatmaps.apply_affine(np.array([[box[0], box[1]], [box[2], box[3]]], np.float32), matrix)
  return np.concatenate([corners.min(0), corners.max(0)]).astype(np.float32)


# ----------------------------------------------------------------------------- examples

def frame_path(folder: str, frame: int) -> str:
  return os.path.join(folder, f"{int(frame)}.jpg")


def video_examples(task: VideoTask) -> Iterator[tuple[int, dict[str, Any]]]:
  """Yields (key, example) for every frame of ``task`` (module-level: Beam pickles it)."""
  identity = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
  for t, frame in enumerate(task.frames):
    path = frame_path(task.folder, frame)
    data = common.image_bytes(path)
    joints_frame = task.joints[t].astype(np.float32)
    matrix, box, joints, image = identity, task.box, joints_frame, data
    if task.crop_size:
      rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
      matrix = crop_matrix_for(task.box, rgb.shape[:2], task.crop_size)
      crop = cv2.warpAffine(rgb, matrix.astype(np.float64), (task.crop_size, task.crop_size),
                            flags=cv2.INTER_AREA if matrix[0, 0] < 1 else cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
      image = common.encode_jpeg(crop, name=path)
      joints = heatmaps.apply_affine(joints_frame, matrix)  # NaN stays NaN
      box = _box_through(matrix, task.box)
    yield task.video_id * KEY_STRIDE + int(frame), {
        "image": image,
        "joints": np.asarray(joints, np.float32),
        "visible": task.visible[t],
        "annotated": bool(task.annotated[t]),
        "box": np.asarray(box, np.float32),
        "crop_matrix": np.asarray(matrix, np.float32),
        "joints_frame": joints_frame,
        "video_id": np.int32(task.video_id),
        "frame_index": np.int32(frame),
        "video_name": task.name,
        "label_source": task.source,
    }


def _chunks(task: VideoTask, size: int) -> list[VideoTask]:
  return [dataclasses.replace(task, frames=task.frames[s:s + size], joints=task.joints[s:s + size],
                              visible=task.visible[s:s + size], annotated=task.annotated[s:s + size])
          for s in range(0, len(task.frames), size)]


def _task_examples(task: VideoTask):  # Beam FlatMap target
  return video_examples(task)


# ----------------------------------------------------------------------------- builder

class BbcPose(common.PoseBuilderMixin, tfds.core.GeneratorBasedBuilder):
  """BBC Pose (and Extended) frames, one example per annotated frame, (video, frame) order.

  ``BbcPose(config=..., use_beam=True)`` (or ``tfds.builder(..., use_beam=True)``)
  generates with Apache Beam; pass ``DownloadConfig(beam_runner=...)`` or
  ``beam_options`` to ``download_and_prepare``. Default: plain Python.
  """

  CODE_FILE = __file__
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = list(CONFIGS)
  MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

  def __init__(self, *, use_beam: bool = False, **kwargs):
    self.use_beam = bool(use_beam)
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    s = self.builder_config.crop_size
    image_shape = (s, s, 3) if s else (None, None, 3)
    nj = joints_lib.NUM_JOINTS
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=common.pose_features({
            "box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
            "crop_matrix": tfds.features.Tensor(shape=(2, 3), dtype=np.float32),
            "joints_frame": tfds.features.Tensor(shape=(nj, 2), dtype=np.float32),
            "video_name": tfds.features.Text(),
            "label_source": tfds.features.Text(),
            "annotated": tfds.features.Tensor(shape=(), dtype=np.bool_),
        }, image_shape=image_shape),
        disable_shuffling=True,
        homepage=HOMEPAGE,
    )

  def _split_generators(self, dl_manager):
    manual_dir = str(common.existing_manual_dir(
        dl_manager, "bbc_pose", f"download BBC Pose ({HOMEPAGE}), put bbcpose.mat and the frame "
        f"folders there, then pass --manual_dir"))
    # The toolkit keeps it in code/ (NVIDIA's BBCPoseDataset reads code/bbcpose.mat).
    alt = os.path.join(MAT_SUBDIR, MAT_NAME)
    rel = alt if not os.path.exists(os.path.join(manual_dir, MAT_NAME)) and os.path.exists(
        os.path.join(manual_dir, alt)) else MAT_NAME
    mat_path = common.require_path(manual_dir, rel, "bbc_pose",
                                   f"download it from {HOMEPAGE} into manual_dir (or manual_dir/{alt})")
    entries = read_annotations(mat_path)
    cfg = self.builder_config
    tasks = plan_tasks(entries, manual_dir, extended=cfg.extended, crop_size=cfg.crop_size,
                       context=cfg.context)
    return {split: self._generate_examples(tasks[split]) for split in SPLITS}

  def _generate_examples(self, tasks: list[VideoTask]):
    if self.use_beam:
      beam = tfds.core.lazy_imports.apache_beam
      chunks = [c for t in tasks for c in _chunks(t, BEAM_CHUNK_FRAMES)]
      return beam.Create(chunks) | beam.FlatMap(_task_examples)
    return self._generate_local(tasks)

  @staticmethod
  def _generate_local(tasks: list[VideoTask]):
    for task in tasks:
      yield from video_examples(task)


def _video_folder(manual_dir: str, entry: dict) -> str:
  by_index = os.path.join(manual_dir, str(entry["index"] + 1))
  if os.path.isdir(by_index):
    return by_index
  by_name = os.path.join(manual_dir, entry["name"]) if entry["name"] else by_index
  if os.path.isdir(by_name):
    return by_name
  raise InputError(f"frames of video {entry['index'] + 1} ({entry['name']!r}) not found: neither "
                   f"{by_index} nor {by_name} is a folder; extract the BBC Pose frame archives into "
                   f"manual_dir")


def _frame_hw(path: str) -> tuple[int, int]:
  """(H, W) of one frame (checked to decode)."""
  data = common.image_bytes(path)
  return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape[:2]


def _with_context(frames: np.ndarray, joints: np.ndarray, visible: np.ndarray, folder: str,
                  context: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Adds the frames within ±context of annotated ones whose jpg exists (unannotated)."""
  annotated = np.ones(len(frames), bool)
  if context <= 0:
    return frames, joints, visible, annotated
  near = (frames[:, None] + np.arange(-context, context + 1)[None]).ravel()
  extra = np.setdiff1d(near[near >= 1], frames)
  extra = np.array([f for f in extra if os.path.exists(frame_path(folder, f))], np.int64)
  nj = joints_lib.NUM_JOINTS
  all_frames = np.concatenate([frames, extra])
  order = np.argsort(all_frames, kind="stable")
  return (all_frames[order],
          np.concatenate([joints, np.full((len(extra), nj, 2), np.nan, np.float32)])[order],
          np.concatenate([visible, np.zeros((len(extra), nj), bool)])[order],
          np.concatenate([annotated, np.zeros(len(extra), bool)])[order])


def plan_tasks(entries: list[dict], manual_dir: str, *, extended: bool, crop_size: int,
               context: int = 0) -> dict[str, list[VideoTask]]:
  """Per split, the videos to write; checks every listed frame's jpg exists.

  Raises InputError naming the first missing jpg and how many are missing.
  ``context`` > 0 adds val/test neighbour frames that exist on disk.
  """
  if crop_size < 0:
    raise ConfigError(f"bbc_pose crop_size must be >= 0, got {crop_size}")
  if extended and len(entries) <= NUM_ORIGINAL:
    log.warning("bbcpose.mat has %d entries: no Extended BBC Pose videos (entries > %d)",
                len(entries), NUM_ORIGINAL)
  tasks: dict[str, list[VideoTask]] = {s: [] for s in SPLITS}
  missing: list[str] = []
  for entry in entries:
    if entry["index"] >= NUM_ORIGINAL and not extended:
      continue
    split = TYPE_TO_SPLIT[entry["type"]]
    if entry["index"] >= NUM_ORIGINAL and split != "train":
      log.warning("Extended entry %d (%s) has type %r; using it for %s", entry["index"] + 1,
                  entry["name"], entry["type"], split)
    part = "train" if split == "train" else "test"
    frames, joints_1b = entry[f"{part}_frames"], entry[f"{part}_joints"]
    if len(frames) == 0:
      continue
    order = np.argsort(frames, kind="stable")
    frames, joints_1b = frames[order], joints_1b[order]
    if np.any(np.diff(frames) == 0):
      raise InputError(f"{MAT_NAME} entry {entry['index'] + 1}: repeated frame numbers in {part}_frames; "
                       f"re-download it")
    folder = _video_folder(manual_dir, entry)
    absent = [p for p in (frame_path(folder, f) for f in frames) if not os.path.exists(p)]
    missing.extend(absent)
    if absent:
      continue
    joints, visible = to_zero_based(joints_1b)
    hw = _frame_hw(frame_path(folder, frames[0]))
    box = video_box(joints, visible, hw)
    frames, joints, visible, annotated = _with_context(
        frames, joints, visible, folder, context if split != "train" else 0)
    tasks[split].append(VideoTask(
        video_id=entry["index"], name=entry["name"], source=entry["source"], folder=folder,
        frames=frames, joints=joints, visible=visible, annotated=annotated, box=box,
        crop_size=crop_size))
  if missing:
    raise InputError(f"{missing[0]} not found ({len(missing)} frame(s) listed in {MAT_NAME} are missing); "
                     f"extract all BBC Pose frame archives into manual_dir")
  return tasks


def build(config_name: str, data_dir: str, manual_dir: str, *, use_beam: bool = False,
          beam_runner=None) -> None:
  """Writes ``bbc_pose/<config_name>`` (array_record) under data_dir from manual_dir."""
  names = [c.name for c in CONFIGS]
  if config_name not in names:
    raise ConfigError(f"unknown bbc_pose config {config_name!r}; valid: {names}")
  builder = BbcPose(config=config_name, data_dir=data_dir, file_format="array_record",
                    use_beam=use_beam)
  dl_config = tfds.download.DownloadConfig(manual_dir=os.path.abspath(os.path.expanduser(manual_dir)),
                                           beam_runner=beam_runner)
  builder.download_and_prepare(download_config=dl_config)
