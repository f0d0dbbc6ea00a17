"""``flowpose predict``: images, frame folders and videos in; joints (JSON, CSV), overlays and
optionally COCO keypoint results out, one set of files per input.

Nothing is lost or mixed up: inputs that share a name get distinct output
names (``output_names``); every file is written atomically (a temp file
renamed into place), an overlay video is checked to read back whole before it
replaces anything, and a full or read-only output folder stops the command in
one line. A video that ends before its reported length (truncated or damaged)
is predicted on the frames read, and its JSON says so (``partial``: true, ``frames_missing``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys

import numpy as np

from flowpose_jax import fileio, inference, joints as joints_lib, media, runtimes, visualize
from flowpose_jax.errors import FlowposeError, InputError
from flowpose_jax.fileio import output_errors

COCO_RESULTS_FILE = "predictions_coco.json"


def output_names(items: list[media.InputItem]) -> list[str]:
  """A distinct output name per input: its base name, or, where inputs share one (a/x.jpg, b/x.jpg,
  b/x.png), the path below their common folder with "__" for "/" and the extension kept
  ("a__x.jpg", "b__x.jpg", "b__x.png")."""
  names = [item.name for item in items]
  clashing = {n for n in names if names.count(n) > 1}
  paths = [os.path.abspath(item.path) for item in items]
  out = []
  for name, path in zip(names, paths):
    if name not in clashing:
      out.append(name)
      continue
    root = os.path.commonpath([p for p, n in zip(paths, names) if n == name])
    rel = os.path.relpath(path, os.path.dirname(root) if root == path else root)
    out.append(rel.replace(os.sep, "__"))
  seen: dict[str, int] = {}
  for i, name in enumerate(out):  # the same file given twice: name, name__2, ...
    seen[name] = seen.get(name, 0) + 1
    if seen[name] > 1:
      out[i] = f"{name}__{seen[name]}"
  return out


def _write_predictions(name: str, item: media.InputItem, frames: list[np.ndarray], fps: float,
                       joints: np.ndarray, conf: np.ndarray, out_dir: str, shots: np.ndarray | None = None,
                       expected: int | None = None) -> list[str]:
  """Writes one input's joints (JSON, CSV) and overlay (image or video) atomically; returns the paths.

  ``shots``: [T] int shot ids (flowing prediction), written as each JSON frame's "shot";
  ``expected``: the frame count of a video that ended early (the JSON's "partial" is then true and
  "frames_missing" lists the missing frame ranges, inclusive)."""
  stem = os.path.join(out_dir, name)
  records = [{"frame": i, "joints": {n: [float(x), float(y)] for n, (x, y) in zip(joints_lib.JOINT_NAMES, j)},
              "confidence": {n: float(v) for n, v in zip(joints_lib.JOINT_NAMES, c)}}
             for i, (j, c) in enumerate(zip(joints, conf))]
  if shots is not None:
    for record, shot in zip(records, shots):
      record["shot"] = int(shot)
  doc = {"input": item.path, "partial": expected is not None, "joint_names": list(joints_lib.JOINT_NAMES),
         "frames": records}
  if expected is not None:
    doc["frames_missing"] = [[len(records), expected - 1]]
  fileio.write_text(stem + ".json", json.dumps(doc, indent=1))
  table = io.StringIO()
  w = csv.writer(table)
  w.writerow(["frame", "joint", "x", "y", "confidence"])
  for i, (j, c) in enumerate(zip(joints, conf)):
    for n, (x, y), v in zip(joints_lib.JOINT_NAMES, j, c):
      w.writerow([i, n, f"{x:.2f}", f"{y:.2f}", f"{v:.4f}"])
  fileio.write_text(stem + ".csv", table.getvalue())
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


def _coco_image_ids(coco: bool, coco_annotations: str | None) -> dict[str, int] | None | bool:
  """{file name: COCO image id} from ``--coco_annotations``, None for running ids, False without --coco."""
  if coco_annotations is not None and not coco:
    raise FlowposeError("--coco_annotations gives image ids for --coco: add --coco or drop it")
  if coco_annotations is None:
    return None if coco else False
  from flowpose_jax.data import coco_format  # pylint: disable=import-outside-toplevel
  return coco_format.image_ids_by_name(coco_annotations)


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


def _predict_one(predictor, item: media.InputItem, name: str, out_dir: str, *, box, passes, flow_kwargs,
                 shots: str, max_frames: int | None, image_ids, first_id: int
                 ) -> tuple[list[str], list[dict], int | None, int]:
  """One input: its files written, its COCO results (``image_ids`` False: none), the frame count a
  damaged video promised (else None) and the frames read."""
  frames, fps, expected = media.read_item(item, max_frames)
  joints, conf, shot_ids = _predict_frames(predictor, frames, box, passes, flow_kwargs, shots)
  # COCO ids first: an input without ids is skipped before any of its files is written.
  found = [] if image_ids is False else _coco_results(item, joints, conf, image_ids, first_id)
  with output_errors(out_dir):
    files = _write_predictions(name, item, frames, fps, joints, conf, out_dir, shot_ids, expected)
  return files, found, expected, len(frames)


def predict_paths(workdir: str, paths: list[str], out_dir: str, *, box=None, flow: bool = False,
                  flow_source: str | None = None, flow_mode: str | None = None, flow_causal: bool = False,
                  shots: str = "detect", max_frames: int | None = None, runtime: str = "jax",
                  coco: bool = False, coco_annotations: str | None = None, passes: int | None = None,
                  flip_test: bool = False, step: int | None = None
                  ) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
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
    (written paths, [(input path, one-line reason)] of the skipped inputs,
    [(input path, one-line reason)] of the inputs written from fewer frames
    than they hold: a truncated or damaged video).
  """
  image_ids = _coco_image_ids(coco, coco_annotations)
  predictor = inference.load(workdir, step=step)
  predictor.flip_test = flip_test
  runtimes.use(predictor, runtime)
  flow_kwargs = _predict_flow(predictor, flow_source, flow_mode, flow_causal) if flow else None
  os.makedirs(out_dir, exist_ok=True)
  fileio.remove_stale_temps(out_dir)
  written, skipped, partial, results = [], {}, [], []
  items = []
  for index, path in enumerate(paths):
    try:
      items.append((index, path, media.resolve_input(path)))
    except InputError as e:
      skipped[index] = (path, str(e).removeprefix(f"{path}: "))  # the line names the path once
  for (index, path, item), name in zip(items, output_names([item for _, _, item in items])):
    try:
      files, found, expected, count = _predict_one(predictor, item, name, out_dir, box=box, passes=passes,
                                                   flow_kwargs=flow_kwargs, shots=shots, max_frames=max_frames,
                                                   image_ids=image_ids,
                                                   first_id=len(results) + 1)
      written += files
      results += found
      if expected is not None:
        partial.append((path, media.short_video_message(path, count, expected).removeprefix(f"{path}: ")))
    except InputError as e:
      skipped[index] = (path, str(e).removeprefix(f"{path}: "))
  if predictor.runtime == "auto":  # undecided (a decision is logged by runtimes): no input was large enough
    print(f"flowpose: runtime auto: jax (no input of {runtimes.AUTO_MIN_FRAMES} or more frames to time "
          "onnxruntime on)", file=sys.stderr)
  if coco:
    out = os.path.join(out_dir, COCO_RESULTS_FILE)
    with output_errors(out_dir):
      fileio.write_text(out, json.dumps(results))
    written.append(out)
  return written, [skipped[i] for i in sorted(skipped)], partial


__all__ = ["COCO_RESULTS_FILE", "output_names", "predict_paths"]
