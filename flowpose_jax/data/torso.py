"""Which way a labelled torso faces, and what training does with one whose labels look reversed.

From the four torso joints of LSP's 14 (R/L shoulder, R/L hip; ``joints_full``
of the lsp builder): the torso axis u (mid-hips -> mid-shoulders, length L) and,
per pair, the signed width o = cross(u, left - right) / L² (image y down). With
person-centric labels o > 0 when the person's front faces the camera, whatever
the rotation (upright, a handstand or a flip turn u and the pair together), and
o < 0 for a back view. A torso is *reversed* when both pairs are wide enough to
tell (|o| >= ``MIN_WIDTH``, side views left out) and both are negative: a back
view, or all four labels swapped. 2D joints cannot tell these two apart; on
LSP-extended an eye check found most reversed torsos to be back views
(data_builders/lsp/README.md: 26 % of wide torsos reversed, about 3 % swapped).

Training's policy for reversed torsos (``config.dataset.reversed_torsos``), on
the training sets whose records carry LSP's 14 joints (``LSP_SETS``):

* "keep": the labels as published (the default).
* "swap": left and right labels exchanged (right for a swapped record, wrong
  for a back view).
* "mask": the six left/right joints masked (missing), so only the head trains
  on that record: neither reading of it is taught.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flowpose_jax import joints as joints_lib
from flowpose_jax.errors import ConfigError

POLICIES = ("keep", "swap", "mask")
# Datasets (TFDS name before "/") whose records' joints_full are LSP's 14 joints with hips.
LSP_SETS = ("lsp",)
MIN_TORSO_PX = 10.0  # shorter torsos (tiny or foreshortened people) are not judged.
MIN_WIDTH = 0.3  # |signed pair width| / torso length needed to tell front from back.
_NAMES = joints_lib.LSP_JOINT_NAMES
SHOULDERS = (_NAMES.index("right_shoulder"), _NAMES.index("left_shoulder"))
HIPS = (_NAMES.index("right_hip"), _NAMES.index("left_hip"))
# Our 7 joints with a side (every one but the head), and LSP's 14 mirrored.
SIDED = tuple(i for i, n in enumerate(joints_lib.JOINT_NAMES) if n.startswith(("left_", "right_")))
LSP_FLIP_INDEX = tuple(_NAMES.index(n.replace("right_", "@").replace("left_", "right_").replace("@", "left_"))
                       for n in _NAMES)


def torso_orientation(joints: np.ndarray, present: np.ndarray) -> dict[str, np.ndarray]:
  """Signed shoulder and hip widths (module docstring).

  Args:
    joints: [..., 14, 2] px, LSP order (NaN allowed where missing); present: [..., 14] bool.

  Returns:
    {"shoulders", "hips": [...] signed width / torso length (> 0: front-facing with correct labels),
     "up": [...] cosine between the torso axis and image-up, "usable": [...] bool (the four torso
     joints present, torso >= ``MIN_TORSO_PX``)}.
  """
  joints = np.nan_to_num(np.asarray(joints, np.float64))
  present = np.asarray(present, bool)
  axis = joints[..., list(SHOULDERS), :].mean(-2) - joints[..., list(HIPS), :].mean(-2)
  length = np.linalg.norm(axis, axis=-1)
  safe = np.maximum(length, 1e-6)
  out = {"up": -axis[..., 1] / safe,
         "usable": present[..., list(SHOULDERS + HIPS)].all(-1) & (length >= MIN_TORSO_PX)}
  for name, (right, left) in (("shoulders", SHOULDERS), ("hips", HIPS)):
    side = joints[..., left, :] - joints[..., right, :]
    out[name] = (axis[..., 0] * side[..., 1] - axis[..., 1] * side[..., 0]) / safe ** 2
  return out


def reversed_torso(joints: np.ndarray, present: np.ndarray) -> np.ndarray:
  """[..., 14, 2] LSP joints, [..., 14] present -> [...] bool: both pairs wide and facing away."""
  o = torso_orientation(joints, present)
  return o["usable"] & (o["shoulders"] <= -MIN_WIDTH) & (o["hips"] <= -MIN_WIDTH)


def apply_policy(record: dict, policy: str) -> dict:
  """One record under ``policy`` (module docstring): a new dict, or ``record`` itself when its
  torso is not reversed or the policy is "keep". Reads ``joints_full``/``visible_full`` [14, 2]/[14];
  changes ``joints`` [7, 2] and ``visible`` [7] (and, for "swap", the 14 joints alike)."""
  if policy == "keep" or not reversed_torso(record["joints_full"], record["visible_full"]):
    return record
  out = dict(record)
  if policy == "swap":
    flip, lsp_flip = list(joints_lib.FLIP_INDEX), list(LSP_FLIP_INDEX)
    out["joints"], out["visible"] = np.asarray(record["joints"])[flip], np.asarray(record["visible"])[flip]
    out["joints_full"] = np.asarray(record["joints_full"])[lsp_flip]
    out["visible_full"] = np.asarray(record["visible_full"])[lsp_flip]
  else:
    out["joints"] = np.array(record["joints"], np.float32)
    out["visible"] = np.array(record["visible"], bool)
    out["joints"][list(SIDED)] = np.nan
    out["visible"][list(SIDED)] = False
  return out


class TorsoPolicySource(Sequence):
  """``parent``'s records under ``policy``: ``source[k]`` is ``apply_policy(parent[k], policy)``."""

  def __init__(self, parent: Sequence[dict], policy: str):
    self.parent = parent
    self.policy = policy

  def __len__(self) -> int:
    return len(self.parent)

  def __getitem__(self, index: int) -> dict:
    return apply_policy(self.parent[int(index)], self.policy)


def check_policy(policy: str, set_names: Sequence[str]) -> None:
  """A ConfigError unless ``policy`` is one of ``POLICIES`` and, when it changes labels, one of the
  training sets ``set_names`` (TFDS names) carries LSP's torso joints."""
  if policy not in POLICIES:
    raise ConfigError(f"config.dataset.reversed_torsos={policy!r}: give one of {', '.join(POLICIES)}")
  if policy != "keep" and not any(is_lsp_set(n) for n in set_names):
    raise ConfigError(f"config.dataset.reversed_torsos={policy!r} judges torsos from LSP's 14 joints, but no "
                      f"training set is an LSP set ({', '.join(set_names)}); add one (e.g. "
                      f"config.dataset.extra_train=lsp/extended:train) or leave it 'keep'")


def is_lsp_set(name: str) -> bool:
  """Whether TFDS dataset ``name`` ("lsp/extended") has LSP's 14 joints in ``joints_full``."""
  return name.partition("/")[0] in LSP_SETS


__all__ = ["LSP_SETS", "POLICIES", "TorsoPolicySource", "apply_policy", "check_policy", "is_lsp_set",
           "reversed_torso", "torso_orientation"]
