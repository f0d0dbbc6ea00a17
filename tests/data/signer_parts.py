"""Test helper: which synthetic-signer parts carry each joint (BBC Pose joint order).

The flow at a joint's pixel equals the joint's motion when the front-most part
there (``render_video``'s ``part_ids``) is one of the joint's own: the part
it is the end of, or the limb that starts there.
"""

from flowpose_jax.data.synthetic import HEAD, L_FORE, L_HAND, L_UPPER, R_FORE, R_HAND, R_UPPER, TORSO

JOINT_PARTS: tuple[tuple[int, ...], ...] = (
    (HEAD,),               # head
    (R_FORE, R_HAND),      # right wrist
    (L_FORE, L_HAND),      # left wrist
    (R_UPPER, R_FORE),     # right elbow
    (L_UPPER, L_FORE),     # left elbow
    (TORSO, R_UPPER),      # right shoulder
    (TORSO, L_UPPER),      # left shoulder
)
