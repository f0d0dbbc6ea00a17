"""Single-frame examples: one record -> one augmented, encoded example.

Record schema (TFDS ``synthetic_signers``, the BBC Pose builders, or any
random-access sequence of dicts, e.g. a plain list):
  ``image`` [H, W, 3] uint8 RGB; ``joints`` [J, 2] float32 (x, y) frame px
  (training label); ``joints_true`` [J, 2] (optional, clean joints for
  evaluation; defaults to ``joints``); ``visible`` [J] bool; ``box`` [4]
  (optional, x0 y0 x1 y1); ``video_id`` int; ``frame_index`` int (optional).
  Other keys (``flow``, ...) are dropped. Missing joints
  (``flowpose_jax.joints.joints_present``) get weight 0 and an empty target map.

Example, S = ``input.size``, h = S // ``input.stride``:
  ``image`` [S, S, 3] uint8; ``targets`` [h, h, J] float32 Gaussians;
  ``weights`` [J] float32 (1: annotated and on the map, else 0);
  ``joints`` [J, 2] float32 heatmap grid (NaN where missing);
  ``matrix`` [2, 3] float32 frame -> input affine actually used (for records
  with a stored crop, ``crop_matrix`` composed in: original frame -> input);
  ``frame_joints`` [J, 2] float32 frame px of ``joints_true`` in the example's
  joint order (swapped when flipped, so ``invert_affine(matrix)`` maps channel
  k back to ``frame_joints[k]``), NaN where missing; ``frame_visible`` [J] bool;
  ``flipped`` bool; ``video_id``, ``frame_index`` int32.

``FrameExamples`` is the single-frame element transform of
``flowpose_jax.data.pipeline`` (``windows.WindowExamples`` the temporal one):
its elements are the record indices, and ``example(i, rng)`` reads
``source[i]``. ``input_matrix`` and ``encode_example`` are the steps both share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ml_collections
import numpy as np

from flowpose_jax import heatmaps, joints
from flowpose_jax.data import augment
from flowpose_jax.errors import ConfigError, InputError


def heatmap_size(input_cfg) -> int:
  """h = ``input.size // input.stride``; ConfigError when the stride does not divide the size."""
  if input_cfg.size % input_cfg.stride:
    raise ConfigError(f"config.input.size={input_cfg.size} is not a multiple of "
                      f"config.input.stride={input_cfg.stride}")
  return input_cfg.size // input_cfg.stride


def record_image(record: dict) -> np.ndarray:
  """A record's ``image`` as [H, W, 3] uint8 (grey [H, W] or [H, W, 1] repeated to RGB)."""
  image = np.asarray(record["image"])
  if image.ndim == 2:
    image = image[..., None]
  if image.ndim == 3 and image.shape[-1] == 1:
    image = np.repeat(image, 3, -1)
  if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
    raise InputError(f"record 'image' must be [H, W, 3] uint8, got {image.shape} {image.dtype}")
  return image


def input_matrix(frame_hw: tuple[int, int], box: np.ndarray | None, input_cfg, aug_cfg,
                 rng: np.random.Generator | None, joints_xy: np.ndarray | None = None,
                 visible: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
  """Frame -> input affine: the letterbox, then (with ``rng``) one random augmentation.

  With ``rng`` and ``aug_cfg.whole_frame`` > 0, a crop config ("box" /
  "joints") letterboxes the whole frame instead with that probability: the
  view the coarse pass of two-pass inference sees (drawn only when > 0).

  Args:
    frame_hw: (H, W) of the frame.
    box: [4] person box or None; joints_xy [J, 2], visible [J]: the record's
      joints (``augment.frame_to_input_matrix``).
    input_cfg, aug_cfg: the config's ``input`` and ``augment`` sections.
    rng: grain's per-element generator (training), or None (evaluation: the
      letterbox alone, no flip).

  Returns:
    matrix [2, 3] float32 and whether it flips.
  """
  region = input_cfg
  whole = float(aug_cfg.get("whole_frame", 0.0)) if rng is not None and aug_cfg.enabled else 0.0
  if whole > 0 and input_cfg.crop != "frame" and rng.uniform() < whole:
    region = ml_collections.ConfigDict({"crop": "frame", "size": input_cfg.size})
  base = augment.frame_to_input_matrix(frame_hw, box, region, joints_xy, visible)
  if rng is None:
    return base, False
  aug, flip = augment.sample_affine(rng, aug_cfg, input_cfg.size)
  return augment.compose_affine(aug, base), flip


def encode_example(record: dict, image: np.ndarray, matrix: np.ndarray, flip: bool, input_cfg
                   ) -> tuple[dict[str, Any], np.ndarray]:
  """Warps and encodes one record given its frame -> input affine.

  Args:
    record: see the module docstring; image: its [H, W, 3] uint8 frame.
    matrix: [2, 3] frame -> input affine (``input_matrix``); flip: whether it mirrors.
    input_cfg: the config's ``input`` section (size, stride, sigma).

  Returns:
    The example (module docstring; no colour jitter applied) and its warped
    image [S, S, 3] uint8.
  """
  size, stride, sigma = input_cfg.size, input_cfg.stride, input_cfg.sigma
  h = heatmap_size(input_cfg)
  visible = np.asarray(record["visible"], bool)
  warped, joints_in, present = augment.warp_example(image, record["joints"], visible, matrix, flip, size)
  grid = heatmaps.input_to_heatmap(joints_in, stride)  # NaN where missing
  with np.errstate(invalid="ignore"):
    on_map = np.all((grid >= -0.5) & (grid <= h - 0.5), -1)
  weights = present & on_map
  targets = heatmaps.encode(grid[None], weights[None], size=h, sigma=sigma)[0]

  true = record.get("joints_true")
  true = record["joints"] if true is None else true
  if record.get("crop_matrix") is not None and record.get("joints_frame") is not None:
    # Stored person crops (e.g. bbc_pose/*_crops256): score in the ORIGINAL
    # frame's pixels, so the example's affine starts at the frame.
    true = record["joints_frame"]
    matrix = augment.compose_affine(matrix, np.asarray(record["crop_matrix"], np.float32))
  frame_joints, frame_visible = joints.mask_missing(true, visible)
  if flip:
    order = list(augment.FLIP_INDEX)
    frame_joints, frame_visible = frame_joints[order], frame_visible[order]
  example = {
      "image": warped,
      "targets": targets,
      "weights": weights.astype(np.float32),
      "joints": grid.astype(np.float32),
      "matrix": np.asarray(matrix, np.float32),
      "frame_joints": frame_joints,
      "frame_visible": frame_visible,
      "flipped": np.bool_(flip),
      "video_id": np.int32(record.get("video_id", -1)),
      "frame_index": np.int32(record.get("frame_index", -1)),
  }
  return example, warped


class FrameExamples:
  """Record index -> single-frame example (module docstring).

  Training (``rng`` given): one ``augment.sample_affine`` composed with the
  letterbox, then colour jitter, blur and occlusion, drawn only from ``rng``; with
  ``config.augment.enabled`` False it equals evaluation (``rng`` None: the
  letterbox alone).

  Args:
    config: uses ``input.*`` and ``augment.*``.
    source: random-access records.

  Attributes:
    elements: [N] int64, every record index.
  """

  def __init__(self, config: ml_collections.ConfigDict, source: Sequence[dict]):
    self.input_cfg = ml_collections.FrozenConfigDict(config.input)
    self.aug_cfg = ml_collections.FrozenConfigDict(config.augment)
    heatmap_size(self.input_cfg)
    self.source = source
    self.elements = np.arange(len(source), dtype=np.int64)

  def example(self, i: int, rng: np.random.Generator | None = None) -> dict[str, Any]:
    """The example of record ``i``: augmented with ``rng``, deterministic without."""
    record = self.source[int(i)]
    image = record_image(record)
    matrix, flip = input_matrix(image.shape[:2], record.get("box"), self.input_cfg, self.aug_cfg, rng,
                                record["joints"], record["visible"])
    example, warped = encode_example(record, image, matrix, flip, self.input_cfg)
    if rng is not None and self.aug_cfg.enabled:
      example["image"] = augment.degrade(augment.colour_jitter(warped, rng, self.aug_cfg), rng,
                                         self.aug_cfg)
    return example


__all__ = ["FrameExamples", "encode_example", "heatmap_size", "input_matrix", "record_image"]
