"""Runs a predict function over eval batches and scores it (paper protocol).

The evaluator is given a predict function (big_vision style), so this module
never imports models: ``predict_fn(batch) -> heatmaps [B, h, w, J]``, where
``batch`` holds the model's inputs ("image" [B, S, S, 3] uint8 for
single-frame models; windows for the flowing model). Decoded heatmap peaks go
heatmap grid -> network input -> ORIGINAL frame px through the inverse of the
affine each batch carries (``heatmaps.decode_to_frame``); the dataset's
protocol (``protocols.apply_protocol``) turns them into errors.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
from tqdm import tqdm

from flowpose_jax import heatmaps, joints as joints_lib
from flowpose_jax.data import frames as frames_lib, pipeline
from flowpose_jax.evaluate import protocols
from flowpose_jax.evaluate.pck import PCKAccumulator


class _Scores:
  """Frame-px predictions -> protocol errors -> curves: what both evaluation loops share."""

  def __init__(self, protocol: protocols.Protocol, max_distance: int, norms: np.ndarray | None):
    self.acc = PCKAccumulator(np.arange(max_distance + 1, dtype=np.float32))
    self.protocol, self.norms = protocol, norms
    self.preds, self.seen = [], 0

  def add(self, joints: np.ndarray, frame_joints: np.ndarray, frame_visible: np.ndarray,
          mask: np.ndarray | None = None) -> None:
    """joints, frame_joints [B, J, 2] frame px; frame_visible [B, J]; mask [B] (False: padding)."""
    mask = np.ones(len(joints), bool) if mask is None else np.asarray(mask, bool)
    visible = np.asarray(frame_visible, bool) & mask[:, None]
    batch_norms = None
    if self.norms is not None:  # this batch's real rows; padding rows are masked anyway
      batch_norms = np.ones(len(joints), np.float64)
      batch_norms[mask] = self.norms[self.seen:self.seen + int(mask.sum())]
    self.seen += int(mask.sum())
    self.acc.update_errors(protocols.apply_protocol(joints, frame_joints, visible, self.protocol,
                                                    norm=batch_norms))
    self.preds.append(np.asarray(joints)[mask])

  def result(self) -> dict:
    result = self.acc.result()
    num_joints = len(self.acc.joint_names)
    result["predictions"] = (np.concatenate(self.preds) if self.preds
                             else np.zeros((0, num_joints, 2), np.float32))
    return result


def evaluate(predict_fn: Callable[[dict], np.ndarray], batches: Iterable[dict], *, stride: float,
             protocol: protocols.Protocol, max_distance: int, norms: np.ndarray | None = None,
             total: int | None = None, desc: str = "eval") -> dict:
  """Accuracy-vs-distance curves for d = 0..max_distance, in the protocol's units.

  Args:
    predict_fn: batch -> heatmaps [B, h, w, J].
    batches: dicts with the model's inputs, "matrix" [B, 2, 3], "frame_joints"
      [B, J, 2], "frame_visible" [B, J] and optionally "_mask" [B] (padding).
    stride: input px per heatmap px.
    protocol: the dataset's scoring rule (``protocols.for_dataset``): errors
      are ``protocols.apply_protocol`` of the frame-px predictions.
    max_distance: largest d of the curve, in protocol units.
    norms: [N] per-example lengths in frame px, in batch order (required by
      normalised protocols, e.g. FLIC torso sizes from ``protocols.example_norms``).
    total: number of batches, for the progress bar.

  Returns:
    ``PCKAccumulator.result()`` plus "predictions": joints [N, J, 2] in frame px.
  """
  scores = _Scores(protocol, max_distance, norms)
  for batch in tqdm(batches, total=total, desc=desc, leave=False, unit="batch"):
    joints, _ = heatmaps.decode_to_frame(np.asarray(predict_fn(batch)), batch["matrix"], stride)
    scores.add(joints, batch["frame_joints"], batch["frame_visible"], batch.get("_mask"))
  return scores.result()


def evaluate_frames(predict_joints: Callable[[list[np.ndarray]], np.ndarray], source, *,
                    protocol: protocols.Protocol, max_distance: int, norms: np.ndarray | None = None,
                    max_examples: int = 0, batch_size: int = 16, desc: str = "eval") -> dict:
  """``evaluate`` for a predictor that takes whole frames (e.g. two-pass inference).

  Args:
    predict_joints: frames (a list of [H, W, 3] uint8) -> joints [B, J, 2]
      frame px (``Predictor.joints`` without boxes).
    source: random-access records ("image", "joints" / "joints_true", "visible").
    protocol, max_distance, norms: as ``evaluate``.
    max_examples: only the first N records (0 = all).

  Returns:
    As ``evaluate``.
  """
  n = len(source) if not max_examples else min(int(max_examples), len(source))
  scores = _Scores(protocol, max_distance, norms)
  for start in tqdm(range(0, n, batch_size), desc=desc, leave=False, unit="batch"):
    records = [source[i] for i in range(start, min(n, start + batch_size))]
    frames = [frames_lib.record_image(r) for r in records]
    truth = np.stack([np.asarray(r["joints_true"] if r.get("joints_true") is not None else r["joints"],
                                 np.float32) for r in records])
    truth, visible = joints_lib.mask_missing(truth, np.stack([np.asarray(r["visible"], bool)
                                                              for r in records]))
    scores.add(np.asarray(predict_joints(frames)), truth, visible)
  return scores.result()


def evaluate_source(predict_fn: Callable[[dict], np.ndarray] | None, source, config, *, dataset: str,
                    max_examples: int = 0, desc: str = "eval",
                    predict_joints: Callable[[list[np.ndarray]], np.ndarray] | None = None,
                    maps: np.ndarray | None = None) -> tuple[dict, protocols.Protocol]:
  """Scores ``predict_fn`` on a record source with ``dataset``'s protocol.

  The one scoring path of ``flowpose evaluate`` and of validation during
  training: the config's eval transform (``input.*``), the protocol of
  ``dataset`` (``protocols.for_dataset``; ``config.eval.threshold`` for a
  dataset without one), curves up to ``config.eval.max_distance`` (or the
  protocol's largest distance).

  Args:
    predict_fn: batch -> heatmaps [B, h, w, J] (the eval pipeline's batches).
    source: random-access records of ``dataset``.
    config: the run's config (``input``, ``eval``, ``flow`` if flowing).
    dataset: TFDS name[/config] of ``source`` (picks the protocol).
    max_examples: only the first N records (0 = all).
    predict_joints: instead of ``predict_fn``: whole frames -> joints in frame
      px (``evaluate_frames``; e.g. two-pass inference, which crops itself).
    maps: precomputed per-frame maps of ``source`` for a flowing model
      (``windows.frame_maps``; the batches then hold "maps", not "images").

  Returns:
    (``evaluate`` result, the protocol used).
  """
  protocol = protocols.for_dataset(dataset, config.eval.threshold)
  n = len(source) if not max_examples else min(int(max_examples), len(source))
  norms = None
  if protocol.normalised:
    norms = protocols.example_norms(dataset, (source[i] for i in range(n)))
  bs = int(config.eval.batch_size)
  max_distance = int(max(config.eval.max_distance, np.ceil(max(protocol.distances))))
  if predict_joints is not None:
    return evaluate_frames(predict_joints, source, protocol=protocol, max_distance=max_distance,
                           norms=norms, max_examples=n, batch_size=bs, desc=desc), protocol
  batches = pipeline.make_eval_batches(source, config, batch_size=bs, max_examples=n, maps=maps)
  result = evaluate(predict_fn, batches, stride=config.input.stride, protocol=protocol,
                    max_distance=max_distance, norms=norms, total=-(-n // bs), desc=desc)
  return result, protocol
