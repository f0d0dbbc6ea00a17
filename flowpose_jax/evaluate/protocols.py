"""Published evaluation protocols as data, and the pure functions that apply them.

A joint is correct iff its error <= d, where the error is measured in the
protocol's units: frame px multiplied by ``scale`` (BBC Pose scores at half
resolution, see below), or in % of a per-example length (FLIC: torso size).

Inputs are in ORIGINAL frame px, 0-based (what ``evaluator`` produces); the
evaluator (the one scoring path of ``flowpose evaluate`` and of validation
during training) calls ``apply_protocol`` and thresholds its errors:

  protocol = for_dataset("bbc_pose/extended", default_distance=6.0)
  errors = apply_protocol(pred, gt, visible, protocol)   # [N, J] protocol units

Sources and decisions (see also docs/paper.md §4):

* bbc_pose: d = 6 px [paper §5.1]. ``scale = 0.5``: a public script that says it
  "should exactly replicate the matlab-based evaluation provided in the
  BBCPose eval toolkit, thresholded at a 6 pixel radius" maps prediction and
  ground truth (1-based) with ``0.5 * (p - 1) + 1`` before thresholding, and
  the BBC Pose loader of Li et al.'s test-time personalisation code (NeurIPS
  2021, ``BBCPoseOfflineDataset.evaluate``) does the same with d = 6. The
  offset cancels in a distance, so this is ``0.5 * ||pred - gt||`` in frame px:
  d = 6 at half resolution = 12 px in the released frames. We have not seen
  the toolkit itself, so ``scale`` is a field: report which you used
  (``dataclasses.replace(p, scale=1.0)`` gives full-resolution px).
* poses_in_the_wild: d = 8 px [paper]; the authors' slides quote d = 10, kept
  as a second distance. Scale 1 (frames as released; unverified).
* flic: PCK at 0.05..0.2 of the torso size, the lsho-rhip distance of the
  ground truth (MODEC ``eval_dataset.m``), expressed in % (d = 5..20); our 7
  joints have no hip, so the caller passes ``norm`` [N] from the dataset's
  full joint set (``example_norms``).
* lsp: PCK at 0.2 (and 0.1) of the torso size, the ground truth's right-hip to
  left-shoulder distance (LSP joints 3 and 10, 1-based: the reference pair of
  the public LSP evaluation code bearpaw/eval_pose, ``demo_eval_lsp.m``), in %
  (d = 20, 10), from each record's ``joints_full``. Other LSP papers normalise
  by the person's box; say which when comparing.
* chalearn: d = 6 px headline, d = 4 also quoted [paper §5]; pixel scale of
  the frames the authors scored is unverified (scale 1).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from flowpose_jax.evaluate.pck import joint_errors

PERCENT = 100.0  # normalised protocols report errors in % of the normalising length


@dataclasses.dataclass(frozen=True)
class Protocol:
  """One dataset's published scoring rule.

  distances: thresholds d in protocol units, the headline first.
  scale: frame px -> protocol px factor applied to errors (BBC Pose: 0.5).
  normalised: errors are in % of a per-example length ``norm`` (FLIC torso);
    then ``distances`` are percentages of it.
  note: where the numbers come from and what is uncertain.
  """
  distances: tuple[float, ...]
  scale: float = 1.0
  normalised: bool = False
  note: str = ""

  @property
  def headline(self) -> float:
    return self.distances[0]

  @property
  def unit(self) -> str:
    """The unit of errors and distances, for tables and plot axes."""
    if self.normalised:
      return "% of the torso size"
    return "px" if self.scale == 1.0 else f"px at scale {self.scale:g} of the frame"

  @property
  def short_unit(self) -> str:
    """The unit after a distance in table headers and plot labels ("d = 20 % torso", "d = 6 px")."""
    return "% torso" if self.normalised else "px"


PROTOCOLS: dict[str, Protocol] = {
    "bbc_pose": Protocol(
        distances=(6.0,), scale=0.5,
        note="d=6 px at half resolution: both points mapped 0.5*(p-1)+1 before thresholding, per a "
             "script replicating the BBC Pose toolkit's MATLAB evaluation and Li et al. 2021's loader "
             "(toolkit itself not seen); scale=1.0 gives full-resolution px"),
    "poses_in_the_wild": Protocol(
        distances=(8.0, 10.0),
        note="d=8 px per the paper; the authors' slides quote d=10"),
    "flic": Protocol(
        distances=(5.0, 10.0, 15.0, 20.0), normalised=True,
        note="PCK at 5-20 % of the gt lsho-rhip distance (MODEC eval_dataset.m); pass norm [N]"),
    "lsp": Protocol(
        distances=(20.0, 10.0), normalised=True,
        note="PCK at 20 % (and 10 %) of the gt right-hip to left-shoulder distance (the reference pair of "
             "bearpaw/eval_pose's LSP evaluation); pass norm [N]"),
    "chalearn": Protocol(
        distances=(6.0, 4.0),
        note="d=6 px headline (d=4 also quoted); GT is Kinect tracking; frame scale unverified"),
    "synthetic_signers": Protocol(distances=(6.0,), note="our synthetic set: BBC Pose's d, frame px"),
    "realpose": Protocol(
        distances=(20.0, 10.0, 30.0),
        note="real Buffy/PARSE images (../shared/data/realpose): coarse stick labels, frame px; "
             "headline 20 px (the real-footage goal: MediaPipe Pose's 71.3 % on episode 4, whole "
             "frame), 10 and 30 px also quoted"),
}


def get_protocol(dataset: str) -> Protocol:
  """The protocol of a TFDS dataset name (``"bbc_pose/extended"`` -> ``bbc_pose``)."""
  base = dataset.split("/")[0].split(":")[0]
  if base not in PROTOCOLS:
    raise KeyError(f"no evaluation protocol for dataset {dataset!r}; known: {sorted(PROTOCOLS)}")
  return PROTOCOLS[base]


def for_dataset(dataset: str, default_distance: float) -> Protocol:
  """``get_protocol(dataset)``, or for a dataset without a published protocol
  (e.g. a user's own) frame px at ``default_distance`` (``config.eval.threshold``)."""
  try:
    return get_protocol(dataset)
  except KeyError:
    return Protocol(distances=(float(default_distance),),
                    note=f"no published protocol for {dataset}: frame px at config.eval.threshold")


def apply_protocol(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, protocol: Protocol,
                   norm: np.ndarray | None = None) -> np.ndarray:
  """Errors in the protocol's units.

  Args:
    pred: [N, J, 2] predicted (x, y) frame px (0- or 1-based, like ``gt``).
    gt: [N, J, 2] ground truth frame px; non-finite / -999 = missing.
    visible: [N, J] bool.
    protocol: a ``Protocol``.
    norm: [N] positive lengths in frame px (required iff ``protocol.normalised``).

  Returns:
    [N, J] float64: ``protocol.scale * ||pred - gt||`` (normalised: ``100 *
    ||pred - gt|| / norm``, in %); NaN where
    masked (not visible, missing gt, or non-positive/non-finite norm); inf for a
    counted joint with a non-finite prediction. Inputs are not modified.
  """
  err = joint_errors(pred, gt, visible) * float(protocol.scale)
  if protocol.normalised:
    if norm is None:
      raise ValueError("this protocol normalises errors (e.g. FLIC torso size): pass norm [N]")
    norm = np.asarray(norm, np.float64)
    if norm.shape != err.shape[:1]:
      raise ValueError(f"norm must be [N]={err.shape[:1]}, got {norm.shape}")
    ok = np.isfinite(norm) & (norm > 0)
    err = np.where(ok[:, None], PERCENT * err / np.where(ok, norm, 1.0)[:, None], np.nan)
  elif norm is not None:
    raise ValueError("norm given but the protocol is not normalised")
  return err


# FLIC's full joint set (``joints_full`` of the flic builder): lsho, rhip columns.
FLIC_LSHO, FLIC_RHIP = 0, 9
# LSP's 14 joints (``joints_full`` of the lsp builder, ``LSP_JOINT_NAMES``): left shoulder, right hip.
LSP_LSHO, LSP_RHIP = 9, 2
# Per normalised dataset: the (left shoulder, right hip) columns of ``joints_full`` whose distance is the torso.
TORSO_JOINTS = {"flic": (FLIC_LSHO, FLIC_RHIP), "lsp": (LSP_LSHO, LSP_RHIP)}


def example_norms(dataset: str, records) -> np.ndarray:
  """[N] per-example normalising lengths (frame px) of a normalised protocol.

  FLIC and LSP: the ground-truth left-shoulder to right-hip distance (MODEC;
  bearpaw/eval_pose for LSP), from each record's ``joints_full``.
  """
  base = dataset.split("/")[0]
  if base not in TORSO_JOINTS:
    raise KeyError(f"no normalising length defined for {dataset!r}")
  lsho, rhip = TORSO_JOINTS[base]
  full = np.stack([np.asarray(r["joints_full"], np.float64) for r in records])
  return torso_size(full[:, lsho], full[:, rhip])


def torso_size(lsho: np.ndarray, rhip: np.ndarray) -> np.ndarray:
  """[N, 2], [N, 2] -> [N] MODEC torso size (left shoulder to right hip), px."""
  return np.linalg.norm(np.asarray(lsho, np.float64) - np.asarray(rhip, np.float64), axis=-1)


__all__ = ["Protocol", "PROTOCOLS", "get_protocol", "for_dataset", "apply_protocol", "torso_size",
           "example_norms", "PERCENT"]
