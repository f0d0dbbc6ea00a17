"""Whole jobs behind the CLI: demo, train, evaluate, predict, data build.

Each is a plain function (callable from Python and tests); ``cli`` only parses
arguments. Datasets a job needs are built on first use (``flowpose_jax.datasets``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import sys
import time

import ml_collections
import numpy as np

from flowpose_jax import fileio, heatmaps, inference, joints as joints_lib, media, runtimes, visualize
from flowpose_jax.data.augment import CROP_MODES
from flowpose_jax.data.windows import NETWORK_MAPS
from flowpose_jax.data.sources import load_source, overlaps_training
from flowpose_jax.datasets import build_dataset, ensure_dataset, ensure_training_data
from flowpose_jax.errors import FlowposeError, InputError
from flowpose_jax.evaluate import evaluator, plots
from flowpose_jax.evaluate.pck import accuracy_at
from flowpose_jax.models import PRECOMPUTED_MAPS
from flowpose_jax.prediction import COCO_RESULTS_FILE, predict_paths
from flowpose_jax.train.loop import train_and_evaluate

log = logging.getLogger("flowpose")

DEFAULT_EVAL_SPLIT = "test"  # evaluate on a dataset other than the run's own
MIN_DISPLAY_SIDE = 384  # px; overlay videos of smaller frames are enlarged


def train(config, workdir: str, *, restart: bool = False) -> None:
  ensure_training_data(config)
  train_and_evaluate(config, workdir, restart=restart)


def _eval_config(config, crop: str | None) -> ml_collections.ConfigDict:
  """A copy of a run's config for scoring, with the network input's ``crop`` overridden."""
  cfg = ml_collections.ConfigDict(config.to_dict())
  if crop is not None:
    if crop not in CROP_MODES:
      raise FlowposeError(f"--crop {crop!r}: use one of {list(CROP_MODES)}")
    cfg.input.crop = crop
  return cfg


def write_results(out_dir: str, split: str, results: dict[str, dict], protocol, info: dict) -> str:
  """Writes ``results_<split>.json``, ``.md`` and ``accuracy_<split>.png``; returns the tables.

  Args:
    results: {label: ``evaluator.evaluate`` result}.
    protocol: the ``protocols.Protocol`` the results were scored with.
    info: facts for the JSON and the headings ("dataset", "num_examples", "crop", ...).
  """
  os.makedirs(out_dir, exist_ok=True)
  table = "\n\n".join(plots.format_table(results, d, protocol.short_unit) for d in protocol.distances)
  title = f"{info['dataset']} {split}: accuracy vs distance ({protocol.unit})"
  plots.plot_accuracy_curves(results, os.path.join(out_dir, f"accuracy_{split}.png"),
                             threshold=protocol.headline, title=title, unit=protocol.short_unit)
  plots.write_results_json(os.path.join(out_dir, f"results_{split}.json"), results,
                           dict(info, split=split, protocol=dataclasses.asdict(protocol)),
                           d=protocol.headline, unit=protocol.short_unit)
  fileio.write_text(os.path.join(out_dir, f"results_{split}.md"),
                    f"# {info['dataset']} {split} ({info['num_examples']} examples, crop={info['crop']})\n\n"
                    f"Distances in {protocol.unit}. Protocol: {protocol.note}\n\n{table}\n")
  return table


def evaluate_workdir(workdir: str, *, split: str | None = None, dataset: str | None = None,
                     data_dir: str | None = None, out_dir: str | None = None,
                     label: str = "model", crop: str | None = None, output: str | None = None,
                     passes: int | None = None, flip_test: bool = False, step: int | None = None
                     ) -> tuple[dict, str]:
  """Scores a trained workdir on a dataset split with the dataset's protocol.

  Errors are measured in the original frame's pixels and put in the
  protocol's units (``evaluator.evaluate_source``: BBC Pose at half
  resolution, FLIC in % of the torso, ...); the tables are at the protocol's
  distances. Writes ``results_<split>.json``, ``accuracy_<split>.png`` and
  ``results_<split>.md`` to ``out_dir`` (default: the workdir).

  Args:
    split: default: the run's ``dataset.test_split`` (for another
      ``dataset``: "test"). Scoring the split the run trained on is allowed
      (to measure overfitting) but said on the log.
    crop: "frame" (the whole frame), "box" (the record's person box) or
      "joints" (its annotated joints' box grown by ``input.joints_margin``);
      default: the training config's ``input.crop``.
    passes: with crop "frame": 1 letterboxes the frame; 2+ find the person
      and crop (``Predictor.joints``); default ``Predictor.default_passes``
      (1 for a flowing model: its pooled windows are scored).
    flip_test: average each frame's maps with its mirror image's.
    output: score this model output ("heatmap" = conv8 alone, "fusion",
      "pooled"); default: the model's final output.

    step: a checkpointed step (default: the latest intact).

  Returns (result, with the "dataset" and "split" scored; table text).
  """
  predictor = inference.load(workdir, step=step)
  predictor.flip_test = flip_test
  cfg = _eval_config(predictor.config, crop)
  own_dataset = dataset in (None, cfg.dataset.name)
  dataset = dataset or cfg.dataset.name
  split = split or (cfg.dataset.test_split if own_dataset else DEFAULT_EVAL_SPLIT)
  if overlaps_training(cfg.dataset, dataset, split):
    log.warning("scoring %s:%s, which this run trained on: expect more than on unseen frames "
                "(its held-out split is %s)", dataset, split, cfg.dataset.test_split)
  data_dir = data_dir if data_dir is not None else cfg.dataset.data_dir
  ensure_dataset(dataset, data_dir)
  source = load_source(dataset, split, data_dir)
  flowing = "flows" in predictor.inputs
  if passes is None:  # a flowing model is scored on its pooled windows of letterboxed frames
    passes = 1 if flowing else predictor.default_passes
  passes = int(passes)
  if flowing and cfg.input.crop == "frame" and passes > 1:
    raise FlowposeError(f"--passes {passes}: a flowing model is scored on its pooled windows of letterboxed "
                        "frames (--passes 1); for flowing whole-frame passes on a video run "
                        "`flowpose predict --flow --passes N` or benchmarks/realvideo_flow.py")
  predict_joints = None
  if cfg.input.crop == "frame" and passes > 1:
    if output is not None:
      raise FlowposeError(f"--maps {output} scores one pass of the pipeline; give --passes 1 with it")
    predict_joints = lambda frames: predictor.joints(frames, passes=passes)[0]  # noqa: E731
  maps = None
  if cfg.get("flow") is not None and cfg.flow.get("maps") == PRECOMPUTED_MAPS:
    if predict_joints is None and output in (None, "pooled"):
      # A run trained on precomputed maps is scored the same way: the frozen HeatmapNet once per frame
      # (the same maps the windows' frames would give), then warping and pooling per window.
      maps = inference.precompute_maps(predictor.graphdef, predictor.params, source, cfg,
                                       desc=f"{split} frame maps")
    else:
      cfg.flow.maps = NETWORK_MAPS
  result, protocol = evaluator.evaluate_source(lambda batch: predictor.predict_batch(batch, output), source,
                                               cfg, dataset=dataset, desc=f"evaluate {split}",
                                               predict_joints=predict_joints, maps=maps)
  info = {"dataset": dataset, "workdir": os.path.abspath(workdir), "num_examples": len(source),
          "crop": cfg.input.crop if predict_joints is None else f"frame, {passes} passes",
          "flip_test": bool(flip_test)}
  table = write_results(out_dir or workdir, split, {label: result}, protocol, info)
  return dict(result, dataset=dataset, split=split), table


def overlay_video(predictor: inference.Predictor, source, out_path: str, *, max_frames: int = 120,
                  fps: float = 12.0) -> str:
  """Predicts one video of a record source and writes an overlay video (GT thin, prediction thick)."""
  first = source[0]
  vid = int(first["video_id"])
  frames, gts, vis = [], [], []
  for i in range(min(len(source), max_frames)):
    rec = source[i]
    if int(rec["video_id"]) != vid:
      break
    frames.append(np.asarray(rec["image"]))
    gts.append(np.asarray(rec.get("joints_true", rec["joints"])))
    vis.append(np.asarray(rec["visible"]))
  joints, conf = predictor.joints(np.stack(frames))
  # Small synthetic frames are enlarged (nearest neighbour) so the overlay is legible.
  k = max(1, -(-MIN_DISPLAY_SIDE // min(frames[0].shape[:2])))
  enlarge = np.array([[k, 0, (k - 1) / 2], [0, k, (k - 1) / 2]], np.float32)  # pixel-centre convention
  drawn = [visualize.draw_pose(np.repeat(np.repeat(f, k, 0), k, 1), heatmaps.apply_affine(j, enlarge), c, None,
                               gt=heatmaps.apply_affine(g, enlarge))
           for f, j, c, g in zip(frames, joints, conf, gts)]
  media.write_video(out_path, np.stack(drawn), fps)
  return out_path


def demo(config, workdir: str) -> dict:
  """Builds data (if needed), trains, evaluates on test, renders; returns a summary."""
  t0 = time.perf_counter()
  train(config, workdir)
  t_train = time.perf_counter() - t0
  result, table = evaluate_workdir(workdir, split=config.dataset.test_split, label="HeatmapNet+fusion")
  predictor = inference.load(workdir)
  source = load_source(config.dataset.name, config.dataset.test_split, config.dataset.data_dir)
  video = overlay_video(predictor, source, os.path.join(workdir, "overlay_test_video.mp4"))
  return {"table": table, "accuracy": accuracy_at(result, float(config.eval.threshold)),
          "seconds": time.perf_counter() - t0, "train_seconds": t_train, "video": video}
