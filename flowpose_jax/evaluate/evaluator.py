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

from flowpose_jax import heatmaps
from flowpose_jax.data import pipeline
from flowpose_jax.evaluate import protocols
from flowpose_jax.evaluate.pck import PCKAccumulator


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
  acc = PCKAccumulator(np.arange(max_distance + 1, dtype=np.float32))
  preds = []
  seen = 0
  for batch in tqdm(batches, total=total, desc=desc, leave=False, unit="batch"):
    joints, _ = heatmaps.decode_to_frame(np.asarray(predict_fn(batch)), batch["matrix"], stride)
    mask = np.asarray(batch.get("_mask", np.ones(len(joints), bool)), bool)
    visible = np.asarray(batch["frame_visible"], bool) & mask[:, None]
    batch_norms = None
    if norms is not None:  # this batch's real rows; padding rows are masked anyway
      batch_norms = np.ones(len(joints), np.float64)
      batch_norms[mask] = norms[seen:seen + int(mask.sum())]
    seen += int(mask.sum())
    acc.update_errors(protocols.apply_protocol(joints, batch["frame_joints"], visible, protocol,
                                               norm=batch_norms))
    preds.append(joints[mask])
  result = acc.result()
  num_joints = len(acc.joint_names)
  result["predictions"] = np.concatenate(preds) if preds else np.zeros((0, num_joints, 2), np.float32)
  return result


def evaluate_source(predict_fn: Callable[[dict], np.ndarray], source, config, *, dataset: str,
                    max_examples: int = 0, desc: str = "eval") -> tuple[dict, protocols.Protocol]:
  """Scores ``predict_fn`` on a record source with ``dataset``'s protocol.

  The one scoring path of ``flowpose evaluate`` and of validation during
  training: the config's eval transform (``input.*``), the protocol of
  ``dataset`` (``protocols.for_dataset``; ``config.eval.threshold`` for a
  dataset without one), curves up to ``config.eval.max_distance`` (or the
  protocol's largest distance).

  Args:
    predict_fn: batch -> heatmaps [B, h, w, J].
    source: random-access records of ``dataset``.
    config: the run's config (``input``, ``eval``, ``flow`` if flowing).
    dataset: TFDS name[/config] of ``source`` (picks the protocol).
    max_examples: only the first N records (0 = all).

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
  batches = pipeline.make_eval_batches(source, config, batch_size=bs, max_examples=n)
  result = evaluate(predict_fn, batches, stride=config.input.stride, protocol=protocol,
                    max_distance=max_distance, norms=norms, total=-(-n // bs), desc=desc)
  return result, protocol
