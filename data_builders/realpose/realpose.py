"""``realpose``: the developer-visible real annotated images in ``../shared/data`` (test only).

Lets ``flowpose evaluate --dataset realpose --split test`` score a
synthetic-trained model on real images. The images are NEVER copied into the
repository (research-only data, no licence): they are read from ``manual_dir``,
which defaults to the folder next to the repository
(``<repo>/../shared/data/<folder>``) when it exists; otherwise pass
``--manual_dir``. The built records live in the TFDS ``data_dir`` only.

Configs (each folder holds ``annotations.json`` + the jpgs; see its SOURCE.md):
  buffy (default): ``realpose/``: 300 Buffy Stickmen v3.0 frames (episodes 2, 3, 4),
    720×405. Split ``test`` = all 300.
  parse: ``realpose_parse/``: 100 PARSE images (im0001-im0100, the official
    PARSE *training* part), full-body, small people. Split ``test`` = all 100.

``annotations.json``: a list, one entry per image: ``image`` (file name),
``joints`` [7, 2] — already OUR order (head, R wrist, L wrist, R elbow, L elbow,
R shoulder, L shoulder; person's right) and already 0-based px (SOURCE.md:
1-based source values minus 1; checked: Buffy head = midpoint of the 1-based head
stick − 1) —, ``width``, ``height``, plus raw 1-based source geometry
(``buffy_sticks_1based_x1y1x2y2`` / ``parse_14_points_1based``). Mapping
decisions are in the folders' SOURCE.md (Buffy: sticks are image-side, mapped
image-left arm → person's right, exact for camera-facing people).

Features (``common.pose_features`` core plus):
  box: [4] float32 x0, y0, x1, y1: extent of all annotated points (7 joints and
    the raw sticks / 14 points, 0-based) grown by ``BOX_MARGIN`` × its larger side
    on each side, clipped to the frame (no dataset box).
  buffy: sticks [6, 4] float32 0-based x1, y1, x2, y2 in ``BUFFY_STICK_NAMES`` order.
  parse: joints_full [14, 2] float32 0-based in ``PARSE_JOINT_NAMES`` (LSP order,
    person-centric per SOURCE.md), visible_full [14] bool.
  video_id / frame_index: buffy: episode / frame number from
    ``buffy_s5e<episode>_<frame>.jpg`` (isolated frames, not consecutive);
    parse: -1 / -1 (still images).
  filename: the jpg's name.
Record order: the JSON's order (``disable_shuffling``); key = index.
"""

from __future__ import annotations

import json
import logging
import re

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from data_builders import common
from flowpose_jax import joints as joints_lib
from flowpose_jax.errors import InputError

BUFFY_STICK_NAMES: tuple[str, ...] = (
    "torso", "image_left_upper_arm", "image_right_upper_arm", "image_left_lower_arm",
    "image_right_lower_arm", "head")
PARSE_JOINT_NAMES: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck", "head_top")
ANNOTATIONS = "annotations.json"
BOX_MARGIN = 0.15  # fraction of the points' box's larger side added on each side.
REPO_ROOT = epath.Path(__file__).resolve().parents[2]
_BUFFY_NAME_RE = re.compile(r"buffy_s5e(\d+)_(\d+)\.jpg$")


class RealposeConfig(tfds.core.BuilderConfig):
  """``folder``: the shared folder name; ``kind``: 'buffy' or 'parse' (extra features)."""

  def __init__(self, *, folder: str, kind: str, **kwargs):
    super().__init__(**kwargs)
    self.folder = folder
    self.kind = kind

  @property
  def default_manual_dir(self) -> epath.Path:
    return REPO_ROOT.parent / "shared" / "data" / self.folder


def _hint(cfg: RealposeConfig) -> str:
  return (f"pass --manual_dir pointing at the {cfg.folder}/ folder (annotations.json + jpgs), "
          f"normally {cfg.default_manual_dir}")


class Realpose(common.PoseBuilderMixin, tfds.core.GeneratorBasedBuilder):
  """Real annotated still images (Buffy Stickmen, PARSE) in our 7-joint order."""

  CODE_FILE = __file__
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [
      RealposeConfig(name="buffy", folder="realpose", kind="buffy",
                     description="300 Buffy Stickmen v3.0 frames (../shared/data/realpose)."),
      RealposeConfig(name="parse", folder="realpose_parse", kind="parse",
                     description="100 PARSE images (../shared/data/realpose_parse)."),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Nothing to download: manual_dir defaults to <repo>/../shared/data/realpose
  (config buffy) or <repo>/../shared/data/realpose_parse (config parse). Pass
  --manual_dir to read the folder (annotations.json + jpgs) from elsewhere.
  Never copy these images into the repository.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    extra = {"box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
             "filename": tfds.features.Text()}
    if self.builder_config.kind == "buffy":
      extra["sticks"] = tfds.features.Tensor(shape=(len(BUFFY_STICK_NAMES), 4), dtype=np.float32)
    else:
      n = len(PARSE_JOINT_NAMES)
      extra["joints_full"] = tfds.features.Tensor(shape=(n, 2), dtype=np.float32)
      extra["visible_full"] = tfds.features.Tensor(shape=(n,), dtype=np.bool_)
    return tfds.core.DatasetInfo(builder=self, description=__doc__,
                                 features=common.pose_features(extra), disable_shuffling=True)

  def _folder(self, dl_manager) -> epath.Path:
    cfg = self.builder_config
    # A usable manual_dir must hold annotations.json; without one (TFDS's
    # default <data_dir>/downloads/manual is usually absent) read ../shared.
    manual, reason = common.manual_dir(dl_manager)
    if manual is not None:
      if not (manual / ANNOTATIONS).exists():
        raise InputError(f"{manual / ANNOTATIONS} not found: {_hint(cfg)}")
      return manual
    if (cfg.default_manual_dir / ANNOTATIONS).exists():
      logging.warning("realpose/%s: %s; reading %s", cfg.name, reason, cfg.default_manual_dir)
      return cfg.default_manual_dir
    raise InputError(f"realpose/{cfg.name}: {reason}, and {cfg.default_manual_dir} has no "
                     f"{ANNOTATIONS}: {_hint(cfg)}")

  def _split_generators(self, dl_manager):
    folder = self._folder(dl_manager)
    path = folder / ANNOTATIONS
    try:
      entries = json.loads(path.read_text())
    except (OSError, ValueError) as e:
      raise InputError(f"{path}: not readable JSON ({e}); restore it from the shared "
                       f"folder") from None
    if not isinstance(entries, list) or not entries or not all(
        isinstance(e, dict) and "image" in e and "joints" in e for e in entries):
      raise InputError(f"{path}: expected a non-empty list of {{'image', 'joints', ...}} "
                       f"entries; {_hint(self.builder_config)}")
    return {"test": self._generate_examples(folder, entries)}

  def _generate_examples(self, folder: epath.Path, entries: list):
    kind = self.builder_config.kind
    for index, entry in enumerate(entries):
      name = entry["image"]
      image_path = folder / name
      if not image_path.exists():
        raise InputError(f"{image_path} (listed in {folder / ANNOTATIONS}) not found: "
                         f"restore the folder's images")
      jpeg = common.image_bytes(image_path)
      image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
      joints = np.array([[np.nan, np.nan] if j is None else j for j in entry["joints"]],
                        np.float32)
      if joints.shape != (joints_lib.NUM_JOINTS, 2):
        raise InputError(f"{folder / ANNOTATIONS}: entry {index} ({name}) joints shape "
                         f"{joints.shape}, expected (7, 2)")
      joints, visible = joints_lib.mask_missing(joints)
      record = {"image": jpeg, "joints": joints, "visible": visible, "filename": name}
      if kind == "buffy":
        raw = entry.get("buffy_sticks_1based_x1y1x2y2", {})
        sticks = np.array([raw.get(k, [np.nan] * 4) for k in BUFFY_STICK_NAMES], np.float32) - 1
        points = np.concatenate([joints, sticks.reshape(-1, 2)])
        match = _BUFFY_NAME_RE.search(name)
        video_id, frame = (int(match.group(1)), int(match.group(2))) if match else (-1, -1)
        record["sticks"] = sticks
      else:
        raw = entry.get("parse_14_points_1based")
        full = (np.asarray(raw, np.float32) - 1 if raw is not None
                else np.full((len(PARSE_JOINT_NAMES), 2), np.nan, np.float32))
        full, vis_full = joints_lib.mask_missing(full)
        record["joints_full"], record["visible_full"] = full, vis_full
        points = np.concatenate([joints, full])
        video_id, frame = -1, -1
      record["box"] = common.box_from_joints(points, None, image.shape[:2], margin=BOX_MARGIN)
      record["video_id"], record["frame_index"] = np.int32(video_id), np.int32(frame)
      yield index, record
