"""Real footage: accuracy on Buffy episode 4 (never trained on) and whole-frame speed, model by model.

  python benchmarks/realpose_table.py --workdir synthetic=workdirs/demo \\
      --workdir real=workdirs/realpose_scratch --workdir synth_to_real=workdirs/realpose

Each workdir is scored by ``flowpose_jax.jobs.evaluate_workdir`` (what
`flowpose evaluate` runs) on ``realpose/buffy`` ``validation`` (episode 4, 96
frames of 720x405), in frame px at 10 / 20 / 30 px (the realpose protocol), in
each view of ``VIEWS``:
  * "whole frame, 1 pass": the letterboxed frame alone (``--crop frame --passes 1``;
    the default for a model trained on whole frames);
  * "whole frame, 2 passes": find the person on the letterboxed frame, then
    predict on a crop around them (``--passes 2``);
  * "whole frame, 3 passes": as 2, then one more crop around the joints the
    second pass found (``--passes 3``, the default for a model trained on crops);
  * "person box": the box of the annotated joints grown by the run's
    ``input.joints_margin`` (0.4 of its larger side per side in every config:
    the issue's definition) (``--crop joints``);
each also with ``--flip_test`` (maps averaged with the mirror image's). This
script only puts those results side by side; each evaluation's own files
(results JSON/Markdown, accuracy plot) go to ``--out``/evaluate/<row>/.
Then each model's whole-frame frames/s with 1, 2 and 3 passes (every pass
included) over the 96 frames, batch 16, after a warm-up on the same frames
(``flowpose_jax.load(workdir).joints(frames, passes=k)``); the variants are
timed interleaved, ``--repeats`` rounds, median reported.

Prints markdown tables; ``--out`` also writes them and a JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
import time

import jax
import numpy as np
from _common import commit

from flowpose_jax.data.frames import record_image
from flowpose_jax.data.sources import load_source
from flowpose_jax.evaluate import plots

DATASET = "realpose/buffy"
SPLIT = "validation"
DISTANCES = (10, 20, 30)
PASSES = (1, 2, 3)  # whole frame: the letterboxed frame alone; find the person and crop; re-crop once
VIEWS = {  # row name -> evaluate_workdir keywords (`flowpose evaluate` flags)
    **{f"whole frame, {k} pass{'es' if k > 1 else ''}": {"crop": "frame", "passes": k} for k in PASSES},
    "person box": {"crop": "joints"},
}


def evaluate_view(workdir: str, out_dir: str, *, label: str, data_dir: str, split: str = SPLIT,
                  flip_test: bool = False, **view) -> dict:
  """`flowpose evaluate` of ``workdir`` on ``DATASET`` ``split`` in one view (``jobs.evaluate_workdir``
  keywords: crop, passes), writing its files to ``out_dir``; returns its result (with "predictions"
  [N, 7, 2] frame px, in record order)."""
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  result, _ = jobs.evaluate_workdir(workdir, dataset=DATASET, split=split, data_dir=data_dir, out_dir=out_dir,
                                    label=label, flip_test=flip_test, **view)
  return result


def accuracy(runs: dict[str, str], out_dir: str, data_dir: str) -> dict[str, dict]:
  """{"<label>, <view>[, flip test]": result} for every workdir, view and flip setting."""
  results = {}
  for label, workdir in runs.items():
    for flip in (False, True):
      for view, kwargs in VIEWS.items():
        row = f"{label}, {view}{', flip test' if flip else ''}"
        folder = os.path.join(out_dir, re.sub(r"[^A-Za-z0-9.-]+", "_", row))
        results[row] = evaluate_view(workdir, folder, label=row, data_dir=data_dir, flip_test=flip, **kwargs)
  return results


def whole_frame_speed(runs: dict[str, str], frames: list[np.ndarray], repeats: int) -> dict[tuple[str, int], float]:
  """{(label, passes): frames/s} of whole-frame prediction, interleaved rounds after a warm-up, median."""
  import flowpose_jax  # pylint: disable=import-outside-toplevel
  predictors = {label: flowpose_jax.load(d) for label, d in runs.items()}
  variants = [(label, k) for label in predictors for k in PASSES]
  for label, k in variants:
    predictors[label].joints(frames, passes=k)  # warm-up: compiles every bucket these frames use
  seconds = {v: [] for v in variants}
  for _ in range(repeats):
    for label, k in variants:
      t0 = time.perf_counter()
      predictors[label].joints(frames, passes=k)
      seconds[(label, k)].append(time.perf_counter() - t0)
  return {v: len(frames) / float(np.median(s)) for v, s in seconds.items()}


def write(out: str, text: str, results: dict[str, dict], fps: dict, runs: dict[str, str]) -> None:
  os.makedirs(out, exist_ok=True)
  with open(os.path.join(out, "realpose_table.md"), "w") as f:
    f.write(text + "\n")
  summary = {k: {"average": {d: float(v["average"][d]) for d in DISTANCES},
                 "per_joint": {d: dict(zip(v["joint_names"], map(float, v["per_joint"][d]))) for d in DISTANCES}}
             for k, v in results.items()}
  with open(os.path.join(out, "realpose_table.json"), "w") as f:
    json.dump({"accuracy": summary, "frames_per_s": {f"{label}, {k} passes": v for (label, k), v in fps.items()},
               "workdirs": runs}, f, indent=1)


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--workdir", action="append", required=True, help="LABEL=DIR (repeat)")
  p.add_argument("--data_dir", default="")
  p.add_argument("--repeats", type=int, default=3)
  p.add_argument("--out", default=None, help="folder for realpose_table.md/.json and each evaluation's files")
  args = p.parse_args()
  runs = dict(w.split("=", 1) for w in args.workdir)
  with tempfile.TemporaryDirectory() as tmp:
    results = accuracy(runs, os.path.join(args.out or tmp, "evaluate"), args.data_dir)
  source = load_source(DATASET, SPLIT, args.data_dir)
  frames = [record_image(source[i]) for i in range(len(source))]
  fps = whole_frame_speed(runs, frames, args.repeats)

  lines = [f"# {DATASET} {SPLIT} (episode 4, {len(source)} frames, 720x405): accuracy in frame px",
           "", f"commit {commit()}, {platform.node()}, jax {jax.__version__} on {jax.devices()[0].platform}, "
           f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}", ""]
  for d in DISTANCES:
    lines += [plots.format_table(results, d), ""]
  lines += ["| model | passes | whole-frame frames/s (720x405, batch 16) |", "|---|---|---|"]
  lines += [f"| {label} | {k} | {v:.1f} |" for (label, k), v in fps.items()]
  text = "\n".join(lines)
  print(text)
  if args.out:
    write(args.out, text, results, fps, runs)


if __name__ == "__main__":
  main()
