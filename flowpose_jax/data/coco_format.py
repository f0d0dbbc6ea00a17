"""COCO person keypoints <-> our 7 joints: names, the head rule and the one coordinate conversion.

Pure numpy, shared by the ``coco_keypoints`` builder (COCO -> ours) and
``flowpose predict --coco`` (ours -> COCO results).

Coordinates. A COCO keypoint is a "0-indexed location x, y" (cocodataset.org
data format page); COCO stores integer pixel indices in [0, W - 1]
(detectron2 ``data/datasets/coco.py`` ``load_coco_json``: "keypoint
coordinates are integers in [0, H-1 or W-1] ... we assume the coordinates are
pixel indices", which it shifts by +0.5 into its pixel-edge space and back by
-0.5 when it writes COCO). A pixel index is the pixel's centre in our
convention (0-based, centres at integers), so keypoints convert with no shift
(``KEYPOINT_SHIFT``). COCO's ``bbox`` [x, y, w, h] is in pixel-edge space
(floats in [0, W]; the box spans the edges x .. x + w), while our box
[x0, y0, x1, y1] holds inclusive pixel centres (``inference.check_box``: it
spans the edges x0 - 0.5 .. x1 + 0.5, and our edges sit at centre - 0.5), so
x0 = x, x1 = x + w - 1 (a full-frame [0, 0, W, H] -> [0, 0, W - 1, H - 1]).
UNCERTAIN for tools that export float keypoints measured from the image's
corner (CVAT, Label Studio may): those would sit 0.5 px right/below here.

Joints. COCO's left_*/right_* are the person's left/right, like ours, so the
six arm joints map by name. Head = the mean of the labelled (v > 0) face
keypoints (nose, eyes, ears); missing when none is labelled. This is a point
on the face, at eye/nose height and, in profile, on the visible side; BBC
Pose's head is one clicked point on the head (docs/paper.md §4), Buffy's the middle of
the head-top-to-chin stick and FLIC's the mean of the eyes and nose, so the
COCO head sits a little lower and more frontal than a head-centre point.
Results files put our head at ``nose``.

Visibility v: 0 = not labelled -> missing (NaN, not visible); 1 = labelled
but occluded and 2 = visible -> present: our ``visible`` means "has a
location to learn and score", as for Buffy's and BBC Pose's occluded but
annotated joints, and COCO's own evaluation scores every v > 0 keypoint
(cocoapi ``cocoeval.py`` ``computeOks``: ``vg > 0``). The raw flags are kept.
"""

from __future__ import annotations

import json
import os

import numpy as np

from flowpose_jax import joints as joints_lib
from flowpose_jax.errors import InputError

COCO_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle")
NUM_COCO_KEYPOINTS = len(COCO_KEYPOINT_NAMES)
FACE_KEYPOINTS: tuple[int, ...] = tuple(COCO_KEYPOINT_NAMES.index(n) for n in
                                        ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
# Our joints 1..6 (right_wrist .. left_shoulder) carry COCO's names.
ARM_KEYPOINTS: tuple[int, ...] = tuple(COCO_KEYPOINT_NAMES.index(n) for n in joints_lib.JOINT_NAMES[1:])
# Where a results file puts each of our 7 joints (head -> nose).
RESULT_KEYPOINTS: tuple[int, ...] = (COCO_KEYPOINT_NAMES.index("nose"),) + ARM_KEYPOINTS
KEYPOINT_SHIFT = 0.0  # px: ours = COCO keypoint + this (pixel index = our pixel centre, see above).
PERSON_CATEGORY_ID = 1  # COCO's "person"


def keypoints_from_coco(flat) -> tuple[np.ndarray, np.ndarray]:
  """COCO ``keypoints`` [x1, y1, v1, ...] -> our coordinates.

  Args:
    flat: [3 K] numbers (annotations: v in {0, 1, 2}; results: a score).

  Returns:
    xy: [K, 2] float32 0-based px, pixel centres at integers; NaN where v <= 0.
    v: [K] float32, the third numbers as given.
  """
  triples = np.asarray(flat, np.float64).reshape(-1, 3)
  xy = np.where(triples[:, 2:] > 0, triples[:, :2] + KEYPOINT_SHIFT, np.nan)
  return xy.astype(np.float32), triples[:, 2].astype(np.float32)


def keypoints_to_coco(xy: np.ndarray, scores: np.ndarray) -> list[float]:
  """The inverse of ``keypoints_from_coco``: [K, 2] ours + [K] scores -> [3 K] floats.

  Non-finite points and points with score <= 0 are written as x = y = 0.
  """
  xy = np.asarray(xy, np.float64) - KEYPOINT_SHIFT
  scores = np.asarray(scores, np.float64)
  keep = np.isfinite(xy).all(-1) & (scores > 0)
  out = np.concatenate([np.where(keep[:, None], xy, 0.0), np.where(keep, scores, 0.0)[:, None]], -1)
  return [float(v) for v in out.reshape(-1)]


def box_from_coco(bbox) -> np.ndarray:
  """COCO [x, y, w, h] (pixel edges) -> [4] float32 x0, y0, x1, y1 inclusive pixel centres."""
  x, y, w, h = (float(v) for v in bbox)
  return np.array([x, y, x + w - 1.0, y + h - 1.0], np.float32)


def joints_from_keypoints(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """COCO's 17 keypoints (ours, NaN = unlabelled) -> our 7 joints.

  Args:
    xy: [17, 2] float32 in ``COCO_KEYPOINT_NAMES`` order.

  Returns:
    joints [7, 2] float32 (NaN where missing), visible [7] bool.
  """
  out = np.full((joints_lib.NUM_JOINTS, 2), np.nan, np.float32)
  face = xy[list(FACE_KEYPOINTS)]
  labelled = np.isfinite(face).all(-1)
  if labelled.any():
    out[0] = face[labelled].mean(0)
  out[1:] = xy[list(ARM_KEYPOINTS)]
  return joints_lib.mask_missing(out)


def result_keypoints(joints: np.ndarray, confidence: np.ndarray) -> list[float]:
  """Our 7 predicted joints -> a COCO results ``keypoints`` list [x, y, score] x 17.

  Head goes to ``nose``, the arms to their namesakes; the other 10 keypoints
  (eyes, ears, hips, knees, ankles) are x = y = 0 with score 0.

  Args:
    joints: [7, 2] frame px, ours.
    confidence: [7] heatmap peak values (scores <= 0 are written as 0, at x = y = 0).
  """
  xy = np.zeros((NUM_COCO_KEYPOINTS, 2), np.float64)
  scores = np.zeros(NUM_COCO_KEYPOINTS, np.float64)
  xy[list(RESULT_KEYPOINTS)] = joints
  scores[list(RESULT_KEYPOINTS)] = confidence
  return keypoints_to_coco(xy, scores)


def image_ids_by_name(path) -> dict[str, int]:
  """{base name of ``file_name``: image ``id``} from a COCO annotation file's ``images``.

  Raises InputError naming ``path`` when it is unreadable, has no ``images``
  list of {id, file_name}, or two images share a base name.
  """
  try:
    with open(path) as f:
      data = json.load(f)
  except OSError as e:
    raise InputError(f"{path}: cannot read ({e.strerror}); pass a COCO annotation file "
                     f"(e.g. person_keypoints_val2017.json)") from None
  except ValueError as e:
    raise InputError(f"{path}: not valid JSON ({e}); pass a COCO annotation file") from None
  images = data.get("images") if isinstance(data, dict) else None
  if not isinstance(images, list) or not all(
      isinstance(e, dict) and isinstance(e.get("id"), int) and isinstance(e.get("file_name"), str)
      for e in images):
    raise InputError(f"{path}: expected an 'images' list of {{'id', 'file_name'}}; pass a COCO annotation file")
  ids: dict[str, int] = {}
  for entry in images:
    name = os.path.basename(entry["file_name"])
    if name in ids:
      raise InputError(f"{path}: two images are named {name} (ids {ids[name]}, {entry['id']}); "
                       f"image ids are matched by file name, so names must be unique")
    ids[name] = entry["id"]
  return ids
