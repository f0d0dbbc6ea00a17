"""``coco_keypoints``: a user's COCO-format person keypoints (COCO itself, CVAT, Label Studio exports).

Reads from ``manual_dir`` every ``person_keypoints_<split>.json`` found in
``<manual_dir>/annotations/`` or ``<manual_dir>/`` (COCO 2017:
``annotations/person_keypoints_val2017.json`` -> split ``val2017``), and each
listed image's ``file_name`` from the first of ``<manual_dir>/<split>/``,
``<manual_dir>/images/<split>/``, ``<manual_dir>/images/`` and
``<manual_dir>/`` that holds it (COCO 2017: ``val2017/000000000139.jpg``).

The file: ``images`` [{id, file_name, width, height}], ``annotations``
[{id, image_id, category_id, keypoints [x, y, v] * K, bbox [x, y, w, h],
iscrowd, ...}] and ``categories`` [{id, name, keypoints [K names]}]
(cocodataset.org data format page). A category whose ``keypoints`` names
include COCO's 17 is a person category, read by name (any order); annotations
of other categories are skipped. One record per annotated person.

Skipped, and counted in the log and in ``info.metadata["skipped"][split]``:
crowd annotations (``iscrowd`` = 1), annotations without a labelled keypoint
(every v = 0: COCO's small people and crowds), annotations with none of our 7
joints labelled (e.g. only legs), and annotations of other categories.

Conversion (``coco_format``, once): keypoints are pixel indices = our pixel
centres (no shift); bbox [x, y, w, h] -> [x, y, x + w - 1, y + h - 1]
inclusive pixel centres; v = 0 -> missing, v = 1 (occluded) and v = 2 ->
visible; head = mean of the labelled nose/eyes/ears. Sources and reasons are
in ``coco_format``'s docstring.

Features (``common.pose_features`` core plus):
  box: [4] float32 x0, y0, x1, y1 from the annotation's bbox, clipped to the
    frame; without a bbox (or w, h < 1 px) the labelled keypoints' extent
    grown by ``BOX_MARGIN`` of its larger side on each side.
  keypoints_coco: [17, 2] float32 ``coco_format.COCO_KEYPOINT_NAMES`` order,
    0-based px, NaN where v = 0; keypoint_flags: [17] int32, COCO's v.
  image_id, annotation_id: int64 (annotation_id -1 when the file has none);
  filename: the image's ``file_name``. video_id / frame_index: -1 (still images).
Record order: ``images`` order, then the file's annotation order
(``disable_shuffling``); key = the annotation's index in ``annotations``.
"""

from __future__ import annotations

import collections
import json
import logging
import re

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from flowpose_jax.data import coco_format
from flowpose_jax.data_builders import common
from flowpose_jax.errors import InputError

log = logging.getLogger(__name__)

BOX_MARGIN = 0.15  # keypoint-derived box (no bbox) grows by this fraction of its larger side, each side.
ANNOTATION_FOLDERS: tuple[str, ...] = ("annotations", "")
_FILE_RE = re.compile(r"^person_keypoints_(?P<split>[\w-]+)\.json$")  # TFDS split names: [\w-]+
_HINT = ("put COCO-format person keypoint files at <manual_dir>/annotations/person_keypoints_<split>.json "
         "and the images in <manual_dir>/<split>/ or <manual_dir>/images/, then pass --manual_dir")
SKIP_REASONS: tuple[str, ...] = ("crowd", "no_labelled_keypoints", "none_of_our_joints", "other_category")


def find_annotation_files(manual: epath.Path) -> dict[str, epath.Path]:
  """{split: ``person_keypoints_<split>.json``} in ``manual/annotations`` or ``manual``."""
  found: dict[str, epath.Path] = {}
  for sub in ANNOTATION_FOLDERS:
    folder = manual / sub if sub else manual
    if not folder.is_dir():
      continue
    for path in sorted(folder.iterdir()):
      match = _FILE_RE.match(path.name)
      if not match:
        continue
      split = match.group("split")
      if split in found:
        raise InputError(f"{path} and {found[split]} both give split {split}: keep one")
      found[split] = path
  if not found:
    raise InputError(f"no person_keypoints_<split>.json in {manual / 'annotations'} or {manual}: {_HINT}")
  return found


def _person_categories(data: dict, path: epath.Path) -> dict[int, tuple[list[int], int]]:
  """{category id: (for each COCO keypoint its index in the category's ``keypoints``, their count)}."""
  people = {}
  for cat in data["categories"]:
    names = cat.get("keypoints") if isinstance(cat, dict) else None
    if not isinstance(names, list) or not names:
      continue
    missing = [n for n in coco_format.COCO_KEYPOINT_NAMES if n not in names]
    if missing:
      raise InputError(f"{path}: category {cat.get('id')} ({cat.get('name')!r}) has keypoints {names}, "
                       f"lacking COCO's {missing}; name the keypoints as COCO does "
                       f"({', '.join(coco_format.COCO_KEYPOINT_NAMES)}) in your labelling tool")
    people[cat["id"]] = ([names.index(n) for n in coco_format.COCO_KEYPOINT_NAMES], len(names))
  if not people:
    raise InputError(f"{path}: no category has a 'keypoints' list; this is not a person keypoints file "
                     f"(instances_*.json?): export COCO keypoints")
  return people


def load_annotation_file(path: epath.Path) -> dict:
  """Reads and checks one ``person_keypoints_*.json`` (top-level lists, ids, keypoint lengths).

  Returns:
    {"images": {image id: image entry} in file order,
     "people": {image id: [(annotation index, annotation, keypoints [17, 2] ours (NaN where
       v = 0), v [17] int32, joints [7, 2], visible [7])]},
     "skipped": {reason: count} over ``SKIP_REASONS``}.
  """
  try:
    data = json.loads(path.read_text())
  except (OSError, UnicodeDecodeError) as e:
    raise InputError(f"{path}: cannot read ({e}); re-export it") from None
  except ValueError as e:
    raise InputError(f"{path}: not valid JSON ({e}); re-export it from your labelling tool") from None
  if not isinstance(data, dict) or not all(isinstance(data.get(k), list)
                                           for k in ("images", "annotations", "categories")):
    raise InputError(f"{path}: expected a COCO object with 'images', 'annotations' and 'categories' lists; "
                     f"re-export it as COCO keypoints")
  people_cats = _person_categories(data, path)
  _check_unique_ids(path, data["images"], "image")
  _check_unique_ids(path, data["annotations"], "annotation")
  images = {}
  for entry in data["images"]:
    if not (isinstance(entry, dict) and isinstance(entry.get("id"), int)
            and isinstance(entry.get("file_name"), str)):
      raise InputError(f"{path}: image entry {entry!r:.80} lacks an integer 'id' and a 'file_name'; re-export it")
    images[entry["id"]] = entry
  people = collections.defaultdict(list)
  skipped = dict.fromkeys(SKIP_REASONS, 0)
  for index, ann in enumerate(data["annotations"]):
    if not isinstance(ann, dict) or ann.get("image_id") not in images:
      raise InputError(f"{path}: annotation {index} names image_id "
                       f"{ann.get('image_id') if isinstance(ann, dict) else ann!r}, which is not in 'images'; "
                       f"re-export the file")
    category = people_cats.get(ann.get("category_id"))
    if category is None:
      skipped["other_category"] += 1
      continue
    if ann.get("iscrowd", 0):
      skipped["crowd"] += 1
      continue
    order, num_names = category
    flat = ann.get("keypoints") or []
    expected = 3 * num_names
    if not isinstance(flat, list) or len(flat) not in (0, expected):
      got = len(flat) if isinstance(flat, list) else f"not a list of ({type(flat).__name__})"
      raise InputError(f"{path}: annotation {index} (id {ann.get('id')}) has {got} keypoint numbers, "
                       f"expected {expected} (x, y, v per keypoint of category {ann['category_id']}); "
                       f"fix or re-export it")
    if not flat:
      skipped["no_labelled_keypoints"] += 1
      continue
    try:
      xy, v = coco_format.keypoints_from_coco(flat)
    except (TypeError, ValueError):
      raise InputError(f"{path}: annotation {index} (id {ann.get('id')}) keypoints are not all numbers; "
                       f"fix or re-export it") from None
    xy, v = xy[order], v[order]
    if not (v > 0).any():
      skipped["no_labelled_keypoints"] += 1
      continue
    joints, visible = coco_format.joints_from_keypoints(xy)
    if not visible.any():
      skipped["none_of_our_joints"] += 1
      continue
    people[ann["image_id"]].append((index, ann, xy, v.astype(np.int32), joints, visible))
  return {"images": images, "people": people, "skipped": skipped}


def _check_unique_ids(path: epath.Path, entries: list, what: str) -> None:
  """Refuses two ``what`` entries with one integer "id" (COCO ids are unique per file), naming both."""
  seen: dict[int, int] = {}
  for index, entry in enumerate(entries):
    entry_id = entry.get("id") if isinstance(entry, dict) else None
    if isinstance(entry_id, int) and not isinstance(entry_id, bool):
      if entry_id in seen:
        raise InputError(f"{path}: {what}s {seen[entry_id]} and {index} share the id {entry_id}; COCO ids are "
                         f"unique per file: give each {what} its own id, or re-export the file")
      seen[entry_id] = index


class CocoKeypoints(common.PoseBuilderMixin, tfds.core.GeneratorBasedBuilder):
  """COCO-format person keypoints, one record per annotated person, mapped to our 7 joints."""

  CODE_FILE = __file__
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Put COCO-format person keypoint annotations in manual_dir:
  <manual_dir>/annotations/person_keypoints_<split>.json (or directly in
  manual_dir), and the images in <manual_dir>/<split>/ (COCO 2017: val2017/),
  <manual_dir>/images/<split>/, <manual_dir>/images/ or manual_dir itself.
  Each person_keypoints_<split>.json becomes split <split>.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    k = coco_format.NUM_COCO_KEYPOINTS
    extra = {
        "box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
        "keypoints_coco": tfds.features.Tensor(shape=(k, 2), dtype=np.float32),
        "keypoint_flags": tfds.features.Tensor(shape=(k,), dtype=np.int32),
        "image_id": tfds.features.Tensor(shape=(), dtype=np.int64),
        "annotation_id": tfds.features.Tensor(shape=(), dtype=np.int64),
        "filename": tfds.features.Text(),
    }
    return tfds.core.DatasetInfo(builder=self, description=__doc__, features=common.pose_features(extra),
                                 disable_shuffling=True, metadata=tfds.core.MetadataDict(),
                                 homepage="https://cocodataset.org/#format-data")

  def _split_generators(self, dl_manager):
    manual = common.existing_manual_dir(dl_manager, "coco_keypoints", _HINT)
    splits, skipped = {}, {}
    for split, path in find_annotation_files(manual).items():
      parsed = load_annotation_file(path)
      count = sum(len(v) for v in parsed["people"].values())
      if not count:
        raise InputError(f"{path}: no usable person annotation (skipped {parsed['skipped']}); "
                         f"label at least one of our 7 joints of a non-crowd person")
      skipped[split] = parsed["skipped"]
      log.info("coco_keypoints %s: %d people from %s; skipped %s", split, count, path.name,
               ", ".join(f"{n} {r}" for r, n in parsed["skipped"].items()))
      splits[split] = self._generate_examples(manual, split, path, parsed)
    self.info.metadata["skipped"] = skipped
    return splits

  def _generate_examples(self, manual: epath.Path, split: str, path: epath.Path, parsed: dict):
    folders = [manual / split, manual / "images" / split, manual / "images", manual]
    for image_id, entry in parsed["images"].items():
      people = parsed["people"].get(image_id)
      if not people:
        continue
      name = entry["file_name"]
      image_path = next((f / name for f in folders if (f / name).exists()), None)
      if image_path is None:
        raise InputError(f"{name} (image {image_id} in {path}) not found in {', '.join(map(str, folders))}: "
                         f"put the images there")
      jpeg = common.image_bytes(image_path)
      hw = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape[:2]
      listed = (entry.get("height"), entry.get("width"))
      if None not in listed and tuple(listed) != hw:
        raise InputError(f"{image_path} is {hw[1]}x{hw[0]} but {path} lists image {image_id} as "
                         f"{listed[1]}x{listed[0]} (width x height): pass the images the file was made from")
      for index, ann, xy, v, joints, visible in people:
        bbox = ann.get("bbox")
        if isinstance(bbox, list) and len(bbox) == 4 and min(bbox[2:]) >= 1:
          box = np.clip(coco_format.box_from_coco(bbox), 0, [hw[1] - 1, hw[0] - 1] * 2).astype(np.float32)
        else:
          box = common.box_from_joints(xy, None, hw, margin=BOX_MARGIN)
        ann_id = ann["id"] if isinstance(ann.get("id"), int) else -1
        yield index, {
            "image": jpeg, "joints": joints, "visible": visible, "box": box,
            "keypoints_coco": xy, "keypoint_flags": v,
            "image_id": np.int64(image_id), "annotation_id": np.int64(ann_id),
            "filename": name, "video_id": np.int32(-1), "frame_index": np.int32(-1),
        }
