"""Finer localisation without retraining: the last whole-frame pass at a larger network input.

  python benchmarks/final_pass_size.py --workdir workdirs/realpose_lsp --sizes 128,160,192 --flip_test

A crop-trained model finds the person on the letterboxed frame and re-crops
(``inference.person``: passes 1 .. k-1 at the trained input size S). The
network is fully convolutional, so the final pass can run the same crop at a
larger input S' (``Predictor.input_size``): the person is S'/S times larger in
input px than in training (the recipe's scale augmentation covers 0.7-1.3) and
the heatmap grid is S'/S times finer. Scores Buffy episode 4
(``realpose/buffy`` validation: the split recipes are chosen on) at 10 / 20 /
30 px with the realpose protocol for every S', and times each (frames/s over
the 96 frames after a warm-up, sizes interleaved).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import flowpose_jax
from flowpose_jax.data.sources import load_source
from flowpose_jax.evaluate import evaluator, protocols
from flowpose_jax.data import frames as frames_lib

DATASET, SPLIT = "realpose/buffy", "validation"
DISTANCES = (10, 20, 30)


def final_pass_joints(model, frames, size: int, passes: int) -> np.ndarray:
  """frames -> joints [T, 7, 2] frame px: person search at the trained size, the final pass at ``size``."""
  trained = model.input_size
  boxes = model.person_boxes(frames, passes)
  model.input_size = size
  try:
    return model.joints(frames, boxes=boxes)[0]
  finally:
    model.input_size = trained


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--workdir", required=True, help="a workdir or a shipped model's name")
  p.add_argument("--sizes", default="128,160,192")
  p.add_argument("--passes", type=int, default=3)
  p.add_argument("--flip_test", action="store_true")
  p.add_argument("--repeats", type=int, default=2)
  args = p.parse_args()
  sizes = [int(s) for s in args.sizes.split(",")]
  model = flowpose_jax.load(args.workdir)
  model.flip_test = args.flip_test
  stride = model.stride
  if any(s % (4 * stride) for s in sizes):
    raise SystemExit(f"--sizes: each must be a multiple of {4 * stride} (two 2x2 pools, stride {stride})")
  source = load_source(DATASET, SPLIT, "")
  protocol = protocols.for_dataset(DATASET, 20.0)
  rows = {}
  for size in sizes:
    result = evaluator.evaluate_frames(lambda f, s=size: final_pass_joints(model, f, s, args.passes), source,
                                       protocol=protocol, max_distance=max(DISTANCES), desc=f"S'={size}")
    rows[size] = result
  frames = [frames_lib.record_image(source[i]) for i in range(len(source))]
  for size in sizes:  # warm-up: compiles every bucket at this size
    final_pass_joints(model, frames, size, args.passes)
  seconds = {s: [] for s in sizes}
  for _ in range(args.repeats):
    for size in sizes:
      t0 = time.perf_counter()
      final_pass_joints(model, frames, size, args.passes)
      seconds[size].append(time.perf_counter() - t0)
  names = rows[sizes[0]]["joint_names"]
  print(f"{DATASET}:{SPLIT} ({len(source)} frames), {args.workdir}, {args.passes} passes, "
        f"flip test {'on' if args.flip_test else 'off'}; final pass at S' (person search at "
        f"{model.input_size})\n")
  print("| S' | " + " | ".join(f"avg @{d}" for d in DISTANCES) + " | " + " | ".join(f"{n} @10" for n in names)
        + " | frames/s |")
  print("|---" * (2 + len(DISTANCES) + len(names)) + "|")
  for size in sizes:
    r = rows[size]
    avg = [f"{100 * float(r['average'][d]):.1f}" for d in DISTANCES]
    per = [f"{100 * float(v):.1f}" for v in r["per_joint"][10]]
    fps = len(frames) / float(np.median(seconds[size]))
    print(f"| {size} | " + " | ".join(avg) + " | " + " | ".join(per) + f" | {fps:.1f} |")


if __name__ == "__main__":
  main()
