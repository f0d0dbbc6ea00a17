"""Joint names, order and left/right swap partners (BBC Pose order).

"Right" is the *person's* right: for a camera-facing person the right wrist
appears on the image's left.
"""

from __future__ import annotations

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

# Joint types pooled as in the paper's plots (left and right together).
JOINT_TYPES: dict[str, tuple[int, ...]] = {
    "head": (0,),
    "wrists": (1, 2),
    "elbows": (3, 4),
    "shoulders": (5, 6),
}

# Skeleton edges for drawing overlays (index pairs).
SKELETON: tuple[tuple[int, int], ...] = ((5, 3), (3, 1), (6, 4), (4, 2), (5, 6))

# Sentinel that BBC Pose uses for a missing joint; any non-finite value is also missing.
MISSING_SENTINEL = -999.0
