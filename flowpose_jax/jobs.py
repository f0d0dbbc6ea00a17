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
from flowpose_jax.train.loop import train_and_evaluate

log = logging.getLogger("flowpose")

DEFAULT_EVAL_SPLIT = "test"  # evaluate on a dataset other than the run's own
MIN_DISPLAY_SIDE = 384  # px; overlay videos of smaller frames are enlarged
COCO_RESULTS_FILE = "predictions_coco.json"
def train(config, workdir: str) -> None:
  ensure_training_data(config)
  train_and_evaluate(config, workdir)


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
  table = "\n\n".join(plots.format_table(results, d) for d in protocol.distances)
  title = f"{info['dataset']} {split}: accuracy vs distance ({protocol.unit})"
  plots.plot_accuracy_curves(results, os.path.join(out_dir, f"accuracy_{split}.png"),
                             threshold=protocol.headline, title=title)
  plots.write_results_json(os.path.join(out_dir, f"results_{split}.json"), results,
                           dict(info, split=split, protocol=dataclasses.asdict(protocol)),
                           d=protocol.headline)
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


def _write_predictions(item: media.InputItem, frames: list[np.ndarray], fps: float, joints: np.ndarray,
                       conf: np.ndarray, out_dir: str, shots: np.ndarray | None = None) -> list[str]:
  """Writes one input's joints (JSON, CSV) and overlay (image or video); returns the paths.

  ``shots``: [T] int shot ids (flowing prediction), written as each JSON frame's "shot"."""
  stem = os.path.join(out_dir, item.name)
  records = [{"frame": i, "joints": {n: [float(x), float(y)] for n, (x, y) in zip(joints_lib.JOINT_NAMES, j)},
              "confidence": {n: float(v) for n, v in zip(joints_lib.JOINT_NAMES, c)}}
             for i, (j, c) in enumerate(zip(joints, conf))]
  if shots is not None:
    for record, shot in zip(records, shots):
      record["shot"] = int(shot)
  with open(stem + ".json", "w") as f:
    json.dump({"input": item.path, "joint_names": list(joints_lib.JOINT_NAMES), "frames": records}, f, indent=1)
  with open(stem + ".csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["frame", "joint", "x", "y", "confidence"])
    for i, (j, c) in enumerate(zip(joints, conf)):
      for n, (x, y), v in zip(joints_lib.JOINT_NAMES, j, c):
        w.writerow([i, n, f"{x:.2f}", f"{y:.2f}", f"{v:.4f}"])
  drawn = [visualize.draw_pose(fr, j, c) for fr, j, c in zip(frames, joints, conf)]
  if item.kind == "image":
    out = stem + "_overlay.jpg"
    media.write_image(out, drawn[0])
  else:
    out = stem + "_overlay.mp4"
    media.write_video(out, np.stack(drawn), fps)
  return [stem + ".json", stem + ".csv", out]


def _coco_results(item: media.InputItem, joints: np.ndarray, conf: np.ndarray,
                  image_ids: dict[str, int] | None, first_id: int) -> list[dict]:
  """One input's COCO keypoint results: a dict per frame.

  Args:
    joints: [T, 7, 2] frame px; conf: [T, 7].
    image_ids: {file base name: COCO image id} (``--coco_annotations``), or
      None: running ids ``first_id``, ``first_id + 1``, ...

  Returns:
    [T] {"image_id", "category_id": 1, "keypoints": [x, y, score] * 17
    (``coco_format.result_keypoints``: head at nose, 10 keypoints 0, 0, 0),
    "score": the mean of the 7 confidences}.
  """
  from flowpose_jax.data import coco_format  # pylint: disable=import-outside-toplevel
  if image_ids is None:
    ids = list(range(first_id, first_id + len(joints)))
  elif item.kind == "video":
    raise InputError(f"{item.path}: a video's frames have no file names to look up in --coco_annotations; "
                     f"extract the frames to images, or omit --coco_annotations for running ids")
  else:
    names = [os.path.basename(p) for p in item.frames[:len(joints)]]
    unknown = [n for n in names if n not in image_ids]
    if unknown:
      raise InputError(f"{item.path}: {unknown[0]} (and {len(unknown) - 1} more) not in --coco_annotations' "
                       f"images; pass the annotation file these images come from")
    ids = [image_ids[n] for n in names]
  return [{"image_id": int(i), "category_id": coco_format.PERSON_CATEGORY_ID,
           "keypoints": coco_format.result_keypoints(j, c), "score": float(np.mean(c))}
          for i, j, c in zip(ids, joints, conf)]


def _predict_flow(predictor, source: str | None, mode: str | None, causal: bool) -> dict:
  """``predict --flow``'s flow: as the model was trained unless given (``inference.flow_choice``);
  says which on stderr. Returns the ``Predictor.joints`` flow kwargs."""
  inference.require_flowing(predictor)
  source, mode, note = inference.flow_choice(predictor.config, source, mode)
  print(f"flowpose: {note}", file=sys.stderr)
  return {"source": source, "mode": mode, "causal": causal}


def _predict_frames(predictor, frames: list[np.ndarray], box, passes: int | None, flow_kwargs: dict | None,
                    shots: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
  """One input's joints [T, 7, 2], confidences [T, 7] and, flowing, its [T] shot ids."""
  boxes = None
  if box is not None:
    for frame_hw in sorted({f.shape[:2] for f in frames}):
      inference.check_box(box, frame_hw)
    boxes = np.tile(np.asarray(box, np.float32), (len(frames), 1))
  if flow_kwargs is None:
    return (*predictor.joints(frames, boxes, passes=passes), None)
  shot_ids = inference.video_shots(frames, shots)  # the flowing windows stop at the cuts; the JSON says where
  joints, conf = predictor.joints(frames, boxes, flow=True, passes=passes, shots=shot_ids, **flow_kwargs)
  return joints, conf, shot_ids


def predict_paths(workdir: str, paths: list[str], out_dir: str, *, box=None, flow: bool = False,
                  flow_source: str | None = None, flow_mode: str | None = None, flow_causal: bool = False,
                  shots: str = "detect", max_frames: int | None = None, runtime: str = "jax",
                  coco: bool = False, coco_annotations: str | None = None, passes: int | None = None,
                  flip_test: bool = False, step: int | None = None) -> tuple[list[str], list[tuple[str, str]]]:
  """Runs a trained model on images, folders of frames and videos.

  Writes, per input, joints as JSON and CSV (frame, joint, x, y, confidence;
  x, y in the input's pixels) and overlays (an image per image, a video per
  video or folder). An input that cannot be read (missing, corrupt, a box
  outside its frames) is skipped and the others are still written.

  Args:
    box: None (whole frame) or [4] (x0, y0, x1, y1) person box in frame px,
      inclusive, used for every frame; it must overlap each input's frames.
    flow: flowing heatmaps (a workdir trained with configs/flow.py).
    flow_source, flow_mode: with ``flow``, an OpenCV flow method and "direct"
      or "composed" windows; default: as the model was trained
      (``inference.flow_choice``; said on stderr).
    flow_causal: with ``flow``, from past frames only.
    shots: with ``flow``, "detect" (windows and box smoothing stop at each
      video's shot cuts, ``flowpose_jax.flow.shots``; each JSON frame gets its
      "shot" index) or "none" (one shot).
    max_frames: read at most this many frames of each video or folder.
    coco: also write ``out_dir/predictions_coco.json``, COCO keypoint results
      of every frame in COCO's coordinates (``coco_format``; what the
      ``coco_keypoints`` builder reads back exactly).
    coco_annotations: with ``coco``, a COCO annotation file whose ``images``
      give the image ids, matched by file base name; without it, image ids
      run 1, 2, ... over the frames in the order of ``paths``.
    runtime: what runs the per-frame network, "jax" | "onnx" | "auto"
      (``flowpose_jax.runtimes``).
    passes: without ``box``: 1 letterboxes each frame; 2+ find the person,
      then crop (``Predictor.joints``); default ``Predictor.default_passes``.
    flip_test: average each frame's maps with its mirror image's.
    step: a checkpointed step (default: the latest intact).

  Returns:
    (written paths, [(input path, one-line reason)] of the skipped inputs).
  """
  if coco_annotations is not None and not coco:
    raise FlowposeError("--coco_annotations gives image ids for --coco: add --coco or drop it")
  image_ids = None
  if coco_annotations is not None:
    from flowpose_jax.data import coco_format  # pylint: disable=import-outside-toplevel
    image_ids = coco_format.image_ids_by_name(coco_annotations)
  predictor = inference.load(workdir, step=step)
  predictor.flip_test = flip_test
  runtimes.use(predictor, runtime)
  flow_kwargs = _predict_flow(predictor, flow_source, flow_mode, flow_causal) if flow else None
  os.makedirs(out_dir, exist_ok=True)
  written, skipped, results = [], [], []
  for path in paths:
    try:
      item = media.resolve_input(path)
      frames, fps = media.read_item(item, max_frames)
      joints, conf, shot_ids = _predict_frames(predictor, frames, box, passes, flow_kwargs, shots)
      # COCO ids first: an input without ids is skipped before any of its files is written.
      found = _coco_results(item, joints, conf, image_ids, len(results) + 1) if coco else []
      written += _write_predictions(item, frames, fps, joints, conf, out_dir, shot_ids)
      results += found
    except InputError as e:
      skipped.append((path, str(e).removeprefix(f"{path}: ")))  # the line names the path once
  if predictor.runtime == "auto":  # undecided (a decision is logged by runtimes): no input was large enough
    print(f"flowpose: runtime auto: jax (no input of {runtimes.AUTO_MIN_FRAMES} or more frames to time "
          "onnxruntime on)", file=sys.stderr)
  if coco:
    out = os.path.join(out_dir, COCO_RESULTS_FILE)
    with open(out, "w") as f:
      json.dump(results, f)
    written.append(out)
  return written, skipped


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
