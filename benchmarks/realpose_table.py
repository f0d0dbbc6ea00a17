"""Real footage: accuracy on Buffy episode 4 (never trained on) and whole-frame speed.

  python benchmarks/realpose_table.py --workdir synthetic=workdirs/demo \\
      --workdir real=workdirs/realpose_scratch --workdir synth_to_real=workdirs/realpose

For each workdir, on ``realpose/buffy`` ``validation`` (episode 4, 96 frames of
720x405), scored in frame px at 10 / 20 / 30 px:
  * "whole frame, 2 passes": ``Predictor.joints(frames, passes=2)``, no box:
    find the person on the letterboxed frame, then predict on a crop around
    them;
  * "whole frame, 1 pass": the letterboxed frame alone (the default for a
    model trained on whole frames);
  * "whole frame, 3 passes": as 2, then one more crop around the joints the
    second pass found (``passes=3``, the default for a model trained on crops);
  * "person box": the box of the annotated joints grown by 40 % of its larger
    side on each side (the issue's definition; ``input.crop = "joints"``);
each also with ``Predictor.flip_test`` (maps averaged with the mirror image's).
Then each model's whole-frame frames/s with 1, 2 and 3 passes (every pass
included) over the 96 frames, batch 16, after a warm-up on the same frames; the
variants are timed interleaved, ``--repeats`` rounds, median reported.

Prints markdown tables; ``--out`` also writes them and a JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax
import ml_collections
import numpy as np
from _common import commit

from flowpose_jax import inference, jobs
from flowpose_jax.data.frames import record_image
from flowpose_jax.data.sources import load_source
from flowpose_jax.evaluate import evaluator, plots

DATASET = "realpose/buffy"
SPLIT = "validation"
PERSON_BOX_MARGIN = 0.4  # the issue's person box: 40 % of the joints' box's larger side per side
DISTANCES = (10, 20, 30)
PASSES = (1, 2, 3)  # whole frame: the letterboxed frame alone; find the person and crop; re-crop once


def _views(predictor, source) -> dict[str, dict]:
  cfg = ml_collections.ConfigDict(predictor.config.to_dict())
  cfg.eval.max_distance = max(DISTANCES)
  box_cfg = ml_collections.ConfigDict(cfg.to_dict())
  box_cfg.input.crop, box_cfg.input.joints_margin = "joints", PERSON_BOX_MARGIN
  out = {}
  for flip in (False, True):
    predictor.flip_test = flip
    tag = ", flip test" if flip else ""
    for passes in PASSES:
      out[f"whole frame, {passes} pass{'es' if passes > 1 else ''}{tag}"] = evaluator.evaluate_source(
          None, source, cfg, dataset=DATASET,
          predict_joints=lambda f, k=passes: predictor.joints(f, passes=k)[0])[0]
    out[f"person box{tag}"] = evaluator.evaluate_source(predictor.predict_batch, source, box_cfg,
                                                        dataset=DATASET)[0]
  predictor.flip_test = False
  return out


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--workdir", action="append", required=True, help="LABEL=DIR (repeat)")
  p.add_argument("--data_dir", default="")
  p.add_argument("--repeats", type=int, default=3)
  p.add_argument("--out", default=None, help="folder for realpose_table.md/.json")
  args = p.parse_args()
  runs = dict(w.split("=", 1) for w in args.workdir)
  jobs.ensure_dataset(DATASET, args.data_dir)
  source = load_source(DATASET, SPLIT, args.data_dir)
  predictors = {label: inference.load(d) for label, d in runs.items()}
  results = {}
  for label, predictor in predictors.items():
    for view, result in _views(predictor, source).items():
      results[f"{label}, {view}"] = result

  frames = [record_image(source[i]) for i in range(len(source))]
  variants = [(label, k) for label in predictors for k in PASSES]
  for label, k in variants:
    predictors[label].joints(frames, passes=k)  # warm-up: compiles every bucket these frames use
  seconds = {v: [] for v in variants}
  for _ in range(args.repeats):
    for label, k in variants:
      t0 = time.perf_counter()
      predictors[label].joints(frames, passes=k)
      seconds[(label, k)].append(time.perf_counter() - t0)
  fps = {v: len(frames) / float(np.median(s)) for v, s in seconds.items()}

  lines = [f"# {DATASET} {SPLIT} (episode 4, {len(source)} frames, 720x405): accuracy in frame px",
           "", f"commit {commit()}, {platform.node()}, jax {jax.__version__} on {jax.devices()[0].platform}, "
           f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}", ""]
  for d in DISTANCES:
    lines += [plots.format_table(results, d), ""]
  lines += ["| model | passes | whole-frame frames/s (720x405, batch 16) |", "|---|---|---|"]
  lines += [f"| {label} | {k} | {fps[(label, k)]:.1f} |" for label, k in variants]
  text = "\n".join(lines)
  print(text)
  if args.out:
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "realpose_table.md"), "w") as f:
      f.write(text + "\n")
    summary = {k: {"average": {d: float(v["average"][d]) for d in DISTANCES},
                   "per_joint": {d: dict(zip(v["joint_names"], map(float, v["per_joint"][d])))
                                 for d in DISTANCES}} for k, v in results.items()}
    with open(os.path.join(args.out, "realpose_table.json"), "w") as f:
      json.dump({"accuracy": summary, "frames_per_s": {f"{label}, {k} passes": v for (label, k), v in fps.items()},
                 "workdirs": runs}, f, indent=1)


if __name__ == "__main__":
  main()
