"""``realpose``: the developer-visible real annotated images in ``../shared/data``.

Lets ``flowpose evaluate --dataset realpose --split all_frames`` score a model on
real images, and a model be trained on real Buffy frames by episode. The
images are NEVER copied into the repository (research-only data, no
licence): they are read from ``manual_dir``. Without ``--manual_dir`` it is the
folder next to the repository (``<repo>/../shared/data/<folder>``); a given
``--manual_dir`` must exist (it never falls back). The built records live in
the TFDS ``data_dir`` only.

Configs (each folder holds ``annotations.json`` + the jpgs; see its SOURCE.md):
  buffy (default): ``realpose/`` (300 Buffy Stickmen v3.0 frames: episode 2: 76,
    3: 128, 4: 96) and its sibling ``realpose_ep3/`` (the other 248 frames of
    episode 3), 720×405. ``manual_dir`` is the ``realpose/`` folder; the
    ``realpose_ep3/`` beside it is read too. Splits, by the episode in the
    file name (SOURCE.md: split by episode, not by frame, since the frames of
    an episode share shots):
      train = episodes 2 + 3 of both folders (452 frames);
      validation = episode 4 (96 frames), never in train;
      all_frames = the 300 frames of ``realpose/`` (named ``test`` before version
        2.0.0; evaluation of models that never saw Buffy only: it overlaps
        train and validation, so a model trained on ``train`` is scored on
        ``validation``). No split is named ``test``: none is held out from
        every training set.
  parse: ``realpose_parse/``: 100 PARSE images (im0001-im0100, the official
    PARSE *training* part), full-body, small people. Split ``train`` = all
    100 (``test`` before 2.0.0).

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
Record order: the JSON's order (``disable_shuffling``), ``realpose/`` before
``realpose_ep3/``; key: the whole-folder split (``all_frames`` / ``train``): the index in ``realpose/annotations.json``;
train/validation: the file name (unique across the folders, checked).
"""

from __future__ import annotations

import json
import logging
import re

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from flowpose_jax.data_builders import common
from flowpose_jax import joints as joints_lib
from flowpose_jax.errors import InputError

BUFFY_STICK_NAMES: tuple[str, ...] = (
    "torso", "image_left_upper_arm", "image_right_upper_arm", "image_left_lower_arm",
    "image_right_lower_arm", "head")
PARSE_JOINT_NAMES = joints_lib.LSP_JOINT_NAMES  # PARSE labels LSP's 14 joints
ANNOTATIONS = "annotations.json"
BOX_MARGIN = 0.15  # fraction of the points' box's larger side added on each side.
REPO_ROOT = epath.Path(__file__).resolve().parents[2]
_BUFFY_NAME_RE = re.compile(r"buffy_s5e(\d+)_(\d+)\.jpg$")
# Buffy episode -> split: the protocol of ../shared/data/realpose_ep3/SOURCE.md
# (train on episodes 2 + 3, validate on episode 4, never train on 4).
BUFFY_EPISODE_SPLITS: dict[str, tuple[int, ...]] = {"train": (2, 3), "validation": (4,)}


class RealposeConfig(tfds.core.BuilderConfig):
  """One shared set.

  Attributes:
    folder: the shared folder name (``manual_dir`` defaults to it).
    kind: 'buffy' or 'parse' (extra features).
    extra_folders: sibling folders of ``manual_dir`` read for the episode
      splits only (buffy: ``realpose_ep3``).
    whole_split: the name of the split holding every image of ``folder``
      (buffy: "all_frames", which overlaps the episode splits; parse: "train", the
      images PARSE itself trains on).
    episode_splits: split name -> episodes (from the file name), beside the
      whole-folder split.
  """

  def __init__(self, *, folder: str, kind: str, whole_split: str, extra_folders: tuple[str, ...] = (),
               episode_splits: dict[str, tuple[int, ...]] | None = None, **kwargs):
    super().__init__(**kwargs)
    self.whole_split = whole_split
    self.folder = folder
    self.kind = kind
    self.extra_folders = extra_folders
    self.episode_splits = episode_splits or {}

  @property
  def default_manual_dir(self) -> epath.Path:
    return REPO_ROOT.parent / "shared" / "data" / self.folder

  def source_folders(self, manual_dir) -> list[epath.Path]:
    """The sibling folders a build reads beside ``manual_dir`` (``flowpose_jax.provenance``)."""
    return [epath.Path(manual_dir).parent / extra for extra in self.extra_folders]


def _hint(cfg: RealposeConfig) -> str:
  return (f"pass --manual_dir pointing at the {cfg.folder}/ folder (annotations.json + jpgs), "
          f"normally {cfg.default_manual_dir}")


def buffy_episode(name: str) -> tuple[int, int] | None:
  """(episode, frame) from ``buffy_s5e<episode>_<frame>.jpg``, or None."""
  match = _BUFFY_NAME_RE.search(name)
  return (int(match.group(1)), int(match.group(2))) if match else None


def load_entries(folder: epath.Path, hint: str) -> list[dict]:
  """``folder/annotations.json``: a non-empty list of {'image', 'joints', ...} entries."""
  path = folder / ANNOTATIONS
  if not path.exists():
    raise InputError(f"{path} not found: {hint}")
  try:
    entries = json.loads(path.read_text())
  except (OSError, ValueError) as e:
    raise InputError(f"{path}: not readable JSON ({e}); restore it from the shared "
                     f"folder") from None
  if not isinstance(entries, list) or not entries or not all(
      isinstance(e, dict) and "image" in e and "joints" in e for e in entries):
    raise InputError(f"{path}: expected a non-empty list of {{'image', 'joints', ...}} "
                     f"entries; {hint}")
  return entries


class Realpose(common.PoseBuilderMixin, tfds.core.GeneratorBasedBuilder):
  """Real annotated still images (Buffy Stickmen, PARSE) in our 7-joint order."""

  CODE_FILE = __file__
  VERSION = tfds.core.Version("2.0.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "buffy: train (episodes 2 + 3 of realpose/ and realpose_ep3/, 452) and validation "
               "(episode 4, 96) splits; test unchanged.",
      "2.0.0": "No split named test overlaps training data: buffy's test (all of realpose/) is now "
               "all_frames; parse's 100 images (PARSE's training set) are split train.",
  }
  BUILDER_CONFIGS = [
      RealposeConfig(name="buffy", folder="realpose", kind="buffy", whole_split="all_frames",
                     extra_folders=("realpose_ep3",),
                     episode_splits=BUFFY_EPISODE_SPLITS,
                     description="548 Buffy Stickmen v3.0 frames (../shared/data/realpose + "
                                 "realpose_ep3): train/validation by episode, all_frames = realpose/."),
      RealposeConfig(name="parse", folder="realpose_parse", kind="parse", whole_split="train",
                     description="100 PARSE images (../shared/data/realpose_parse)."),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Nothing to download: manual_dir defaults to <repo>/../shared/data/realpose
  (config buffy; its sibling realpose_ep3/ is read too) or
  <repo>/../shared/data/realpose_parse (config parse). Pass --manual_dir to
  read the folder (annotations.json + jpgs) from elsewhere.
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
    """The manual_dir (``flowpose data build`` passes ``default_manual_dir`` when none is given)."""
    cfg = self.builder_config
    return common.existing_manual_dir(dl_manager, f"realpose/{cfg.name}", _hint(cfg))

  def _split_generators(self, dl_manager):
    cfg = self.builder_config
    folder = self._folder(dl_manager)
    entries = load_entries(folder, _hint(cfg))
    splits = {cfg.whole_split: self._generate_examples([(i, folder, i, e) for i, e in enumerate(entries)])}
    if cfg.episode_splits:
      splits.update(self._episode_splits(folder, entries))
    return splits

  def _episode_splits(self, folder: epath.Path, entries: list) -> dict:
    """train/validation by the episode of each file name, over ``folder`` and its siblings."""
    cfg = self.builder_config
    items = [(folder, i, e) for i, e in enumerate(entries)]
    for extra in cfg.extra_folders:
      sibling = folder.parent / extra
      items += [(sibling, i, e) for i, e in enumerate(load_entries(
          sibling, f"the {'/'.join(cfg.episode_splits)} splits need {extra}/ beside {folder} "
                   f"(normally {cfg.default_manual_dir.parent / extra})"))]
    seen: dict[str, epath.Path] = {}
    by_split: dict[str, list] = {name: [] for name in cfg.episode_splits}
    for where, index, entry in items:
      name = entry["image"]
      if name in seen:
        raise InputError(f"{where / ANNOTATIONS}: {name} is also listed in {seen[name] / ANNOTATIONS}; "
                         f"a frame must be in one folder (restore the shared folders)")
      seen[name] = where
      parsed = buffy_episode(name)
      if parsed is None:
        raise InputError(f"{where / ANNOTATIONS}: entry {index} ({name}) is not named "
                         f"buffy_s5e<episode>_<frame>.jpg; the episode splits need the episode")
      for split, episodes in cfg.episode_splits.items():
        if parsed[0] in episodes:
          by_split[split].append((name, where, index, entry))
    folders = " and ".join(str(w) for w in [folder] + [folder.parent / x for x in cfg.extra_folders])
    for split, chosen in by_split.items():
      if not chosen:
        raise InputError(f"no frames of episodes {cfg.episode_splits[split]} for split {split} in "
                         f"{folders}: {_hint(cfg)}")
    left_out = len(items) - sum(len(v) for v in by_split.values())
    if left_out:
      logging.warning("realpose/%s: %d frames of other episodes are in no episode split (%s)",
                      cfg.name, left_out, cfg.episode_splits)
    return {split: self._generate_examples(v) for split, v in by_split.items()}

  def _generate_examples(self, items: list):
    """Records of ``items``: (key, folder, index in its annotations.json, entry)."""
    kind = self.builder_config.kind
    for key, folder, index, entry in items:
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
        video_id, frame = buffy_episode(name) or (-1, -1)
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
      yield key, record
