"""Automatic-tracker-like label noise on one video's joints (the ``*_noisy`` data sets).

Three error kinds, applied in this order by ``corrupt_labels``:
  1. left/right arm swaps: wrists and elbows exchange labels for a run of
     frames (``swap_arms``);
  2. lost tracks: a wrist or elbow label freezes at its value when the run
     starts and drifts with a random constant velocity (``lose_tracks``);
  3. temporally correlated jitter: an AR(1) process per joint and axis
     (``ar1_jitter``).
Invisible joints keep their true value. All randomness comes from the
``np.random.Generator`` given, in that order, so a seed gives one labelling.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from flowpose_jax import joints as joints_lib

# The arm joints that swaps and lost tracks affect (BBC Pose indices).
ARM_JOINTS: tuple[int, ...] = tuple(joints_lib.JOINT_NAMES.index(n) for n in (
    "right_wrist", "left_wrist", "right_elbow", "left_elbow"))


@dataclasses.dataclass(frozen=True)
class LabelNoise:
  """Tracker label errors (see ``corrupt_labels``); px, frames, rates per frame."""
  jitter_px: float = 1.5  # stationary std of the per-joint jitter.
  jitter_corr_frames: float = 4.0  # e-folding time of the jitter's AR(1) process.
  swap_rate: float = 0.01  # chance per frame that a left/right arm swap starts.
  swap_frames: tuple[int, int] = (4, 15)
  lost_rate: float = 0.01  # chance per frame that a wrist/elbow track is lost.
  lost_frames: tuple[int, int] = (5, 20)
  lost_drift_px: float = 1.0  # std of the drift velocity (px/frame) of a lost track.

  def scaled(self, factor: float) -> "LabelNoise":
    """The same noise for frames ``factor`` times larger (px fields scaled)."""
    return dataclasses.replace(self, jitter_px=self.jitter_px * factor,
                               lost_drift_px=self.lost_drift_px * factor)


def _runs(rng: np.random.Generator, t_len: int, rate: float, frames: tuple[int, int]):
  """Yields (start, length) of runs: each frame not in a run starts one with prob. ``rate``."""
  t = 0
  while t < t_len:
    if rng.random() < rate:
      n = int(rng.integers(frames[0], frames[1] + 1))
      yield t, n
      t += n
    else:
      t += 1


def swap_arms(labels: np.ndarray, true: np.ndarray, rng: np.random.Generator, rate: float,
              frames: tuple[int, int]) -> None:
  """In place: runs of frames whose arm labels are the true ones of the other arm.

  Args:
    labels: [T, 7, 2] float64, written.
    true: [T, 7, 2] the true joints (the swapped values).
    rate: chance per frame that a run starts; frames: (min, max) run length.
  """
  arm = np.asarray(ARM_JOINTS)
  partner = np.asarray(joints_lib.FLIP_INDEX)[arm]
  for t, n in _runs(rng, len(labels), rate, frames):
    labels[t:t + n, arm] = true[t:t + n][:, partner]


def lose_tracks(labels: np.ndarray, rng: np.random.Generator, rate: float, frames: tuple[int, int],
                drift_px: float) -> None:
  """In place: per arm joint, runs where the label freezes and drifts at a constant velocity.

  Args:
    labels: [T, 7, 2] float64, written.
    rate: chance per frame that a run starts; frames: (min, max) run length
      (cut at the video's end); drift_px: std of the velocity, px/frame.
  """
  t_len = len(labels)
  for j in ARM_JOINTS:
    for t, n in _runs(rng, t_len, rate, frames):
      n = min(n, t_len - t)
      vel = rng.normal(0, drift_px, 2)
      labels[t:t + n, j] = labels[t, j] + vel[None, :] * np.arange(n)[:, None]


def ar1_jitter(shape: tuple[int, ...], rng: np.random.Generator, std_px: float,
               corr_frames: float) -> np.ndarray:
  """[T, ...] float64 AR(1) noise along axis 0, stationary std ``std_px``, e-folding ``corr_frames``."""
  rho = float(np.exp(-1.0 / max(corr_frames, 1e-6)))
  innov = rng.normal(0, std_px * np.sqrt(1 - rho**2), shape)
  jit = np.empty(shape)
  jit[0] = rng.normal(0, std_px, shape[1:])
  for k in range(1, shape[0]):
    jit[k] = rho * jit[k - 1] + innov[k]
  return jit


def corrupt_labels(joints: np.ndarray, visible: np.ndarray, rng: np.random.Generator, *,
                   jitter_px: float = LabelNoise.jitter_px,
                   jitter_corr_frames: float = LabelNoise.jitter_corr_frames,
                   swap_rate: float = LabelNoise.swap_rate,
                   swap_frames: tuple[int, int] = LabelNoise.swap_frames,
                   lost_rate: float = LabelNoise.lost_rate,
                   lost_frames: tuple[int, int] = LabelNoise.lost_frames,
                   lost_drift_px: float = LabelNoise.lost_drift_px) -> np.ndarray:
  """Tracker-like errors on one video's labels (module docstring; inputs not modified).

  Keyword names match ``LabelNoise`` fields, so
  ``corrupt_labels(j, v, rng, **dataclasses.asdict(noise))`` works.

  Args:
    joints: [T, 7, 2] float, true joints of consecutive frames, BBC Pose order.
    visible: [T, 7] bool; invisible joints are returned unchanged.
    rng: the generator to draw from.

  Returns:
    [T, 7, 2] float32 noisy joints.
  """
  joints = np.asarray(joints, np.float64)
  visible = np.asarray(visible, bool)
  if joints.ndim != 3 or joints.shape[1:] != (joints_lib.NUM_JOINTS, 2):
    raise ValueError(f"joints must be [T, {joints_lib.NUM_JOINTS}, 2], got {joints.shape}")
  if visible.shape != joints.shape[:2]:
    raise ValueError(f"visible must be {joints.shape[:2]}, got {visible.shape}")
  out = joints.copy()
  swap_arms(out, joints, rng, swap_rate, swap_frames)
  lose_tracks(out, rng, lost_rate, lost_frames, lost_drift_px)
  if jitter_px > 0:
    out += ar1_jitter(joints.shape, rng, jitter_px, jitter_corr_frames)
  return np.where(visible[..., None], out, joints).astype(np.float32)


__all__ = ["ARM_JOINTS", "LabelNoise", "ar1_jitter", "corrupt_labels", "lose_tracks", "swap_arms"]
