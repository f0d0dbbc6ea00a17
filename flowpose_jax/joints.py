"""Joint names, order, left/right swap partners (BBC Pose order) and the missing-joint rule.

"Right" is the *person's* right: for a camera-facing person the right wrist
appears on the image's left.
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "head",
    "right_wrist",
    "left_wrist",
    "right_elbow",
    "left_elbow",
    "right_shoulder",
    "left_shoulder",
)
NUM_JOINTS = len(JOINT_NAMES)

# Each joint's mirror partner: a horizontal flip turns the person's right arm
# into a left arm, so the channels must be swapped.
SWAP_PARTNER: dict[str, str] = {
    "head": "head",
    "right_wrist": "left_wrist",
    "left_wrist": "right_wrist",
    "right_elbow": "left_elbow",
    "left_elbow": "right_elbow",
    "right_shoulder": "left_shoulder",
    "left_shoulder": "right_shoulder",
}

FLIP_INDEX: tuple[int, ...] = tuple(JOINT_NAMES.index(SWAP_PARTNER[n]) for n in JOINT_NAMES)

# The 14 joints of LSP, LSP-extended and PARSE, in their files' order (``joints_full`` of the
# lsp builder and of realpose/parse).
LSP_JOINT_NAMES: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck", "head_top")

# Joint types pooled as in the paper's plots (left and right together).
JOINT_TYPES: dict[str, tuple[int, ...]] = {
    "head": (0,),
    "wrists": (1, 2),
    "elbows": (3, 4),
    "shoulders": (5, 6),
}

# Skeleton edges for drawing overlays (index pairs).
SKELETON: tuple[tuple[int, int], ...] = ((5, 3), (3, 1), (6, 4), (4, 2), (5, 6))

# BBC Pose's code for a missing joint. Coordinates <= it are missing: -999 as
# stored, and -1000 once a 1-based -999 has been shifted to 0-based.
MISSING_SENTINEL = -999.0


def joints_present(joints, visible=None) -> np.ndarray:
  """The missing-joint rule, the one used by builders, augmentation and PCK.

  A joint is missing when it is not ``visible``, or either coordinate is
  non-finite (NaN, inf), or either coordinate is <= ``MISSING_SENTINEL``.
  Other off-frame coordinates (e.g. -40 px) are present: the annotator placed
  them.

  Args:
    joints: [..., J, 2] float (x, y) px.
    visible: [..., J] bool, or None (every joint visible).

  Returns:
    [..., J] bool, True where the joint is present.
  """
  joints = np.asarray(joints, np.float64)
  with np.errstate(invalid="ignore"):
    present = np.all(np.isfinite(joints) & (joints > MISSING_SENTINEL), axis=-1)
  return present if visible is None else present & np.asarray(visible, bool)


def mask_missing(joints, visible=None) -> tuple[np.ndarray, np.ndarray]:
  """Missing joints (``joints_present``) -> NaN coordinates, never (0, 0) or the sentinel.

  Args:
    joints: [..., J, 2] float (x, y) px; not modified.
    visible: [..., J] bool, or None.

  Returns:
    joints [..., J, 2] float32 (NaN where missing), present [..., J] bool.
  """
  present = joints_present(joints, visible)
  return np.where(present[..., None], np.asarray(joints, np.float32), np.nan).astype(np.float32), present


def joints_box(joints, visible=None, *, margin: float = 0.0, pad: float = 0.0,
               min_points: int = 2) -> np.ndarray | None:
  """The person box around present joints, the one rule for "a box from joints".

  The extent of the present joints (``joints_present``) grown on each side by
  ``margin`` × its larger side (at least 1 px) plus ``pad`` px. Not clipped: a
  box that reaches outside the frame letterboxes with zero padding there, so
  its centre and scale stay those of the joints (``data_builders.common``
  clips it for stored boxes).

  Args:
    joints: [..., 2] float (x, y) px (any leading shape, e.g. [J, 2] or [N, J, 2]).
    visible: [...] bool, or None.
    margin, pad: growth per side, fraction of the larger side and px.
    min_points: fewer present points -> None.

  Returns:
    [4] float32 (x0, y0, x1, y1), or None.
  """
  joints = np.asarray(joints, np.float64)
  pts = joints[joints_present(joints, visible)]
  if len(pts) < max(min_points, 1):
    return None
  x0, y0 = pts.min(0)
  x1, y1 = pts.max(0)
  m = margin * max(x1 - x0, y1 - y0, 1.0) + pad
  return np.array([x0 - m, y0 - m, x1 + m, y1 + m], np.float32)
