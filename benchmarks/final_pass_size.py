"""Finer localisation without retraining: the last whole-frame pass at a larger input, or at several crops.

  python benchmarks/final_pass_size.py --workdir workdirs/realpose_lsp --sizes 128,160,192 --flip_test
  python benchmarks/final_pass_size.py --workdir realpose --sizes 128 --box_scales "1;0.9,1,1.1" --flip_test

A crop-trained model finds the person on the letterboxed frame and re-crops
(``inference.person``: passes 1 .. k-1 at the trained input size S). The
network is fully convolutional, so the final pass can run the same crop at a
larger input S' (``Predictor.input_size``): the person is S'/S times larger in
input px than in training (the recipe's scale augmentation covers 0.7-1.3) and
the heatmap grid is S'/S times finer. Scores Buffy episode 4
(``realpose/buffy`` validation: the split recipes are chosen on) at 10 / 20 /
30 px with the realpose protocol for every S', and times each (frames/s over
the 96 frames after a warm-up, sizes interleaved).

``--box_scales`` adds a second axis, test-time crops: each ";"-separated set
of factors runs the final pass once per factor on the found box scaled about
its centre by it, and each joint is the confidence-weighted mean of those
passes' joints (``1`` alone is the plain final pass). Every (S', set) pair is
one row.
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


def scaled_boxes(boxes: np.ndarray, factor: float) -> np.ndarray:
  """boxes [T, 4] (x0, y0, x1, y1) -> [T, 4] float32, each scaled by ``factor`` about its centre."""
  centre, half = (boxes[:, :2] + boxes[:, 2:]) / 2, factor * (boxes[:, 2:] - boxes[:, :2]) / 2
  return np.concatenate([centre - half, centre + half], 1).astype(np.float32)


def final_pass_joints(model, frames, size: int, passes: int, box_scales: tuple[float, ...] = (1.0,)
                      ) -> np.ndarray:
  """frames -> joints [T, 7, 2] frame px: person search at the trained size, the final pass at
  ``size`` on the found box scaled by each of ``box_scales`` (confidence-weighted mean of the joints)."""
  trained = model.input_size
  boxes = model.person_boxes(frames, passes)
  model.input_size = size
  try:
    found = [model.joints(frames, boxes=scaled_boxes(boxes, f)) for f in box_scales]
  finally:
    model.input_size = trained
  joints = np.stack([j for j, _ in found])  # [K, T, 7, 2]
  weights = np.stack([c for _, c in found])[..., None] + 1e-6  # [K, T, 7, 1]
  return (joints * weights).sum(0) / weights.sum(0)


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--workdir", required=True, help="a workdir or a shipped model's name")
  p.add_argument("--sizes", default="128,160,192")
  p.add_argument("--box_scales", default="1", help='";"-separated sets of crop factors, e.g. "1;0.9,1,1.1"')
  p.add_argument("--passes", type=int, default=3)
  p.add_argument("--flip_test", action="store_true")
  p.add_argument("--repeats", type=int, default=2)
  args = p.parse_args()
  sizes = [int(s) for s in args.sizes.split(",")]
  try:
    scale_sets = [tuple(float(f) for f in group.split(",")) for group in args.box_scales.split(";")]
  except ValueError:
    raise SystemExit(f"--box_scales {args.box_scales!r}: give ';'-separated sets of numbers, "
                     f"e.g. '1;0.9,1,1.1'") from None
  if any(f <= 0 for group in scale_sets for f in group):
    raise SystemExit(f"--box_scales {args.box_scales!r}: every factor must be > 0")
  variants = [(size, group) for size in sizes for group in scale_sets]
  model = flowpose_jax.load(args.workdir)
  model.flip_test = args.flip_test
  stride = model.stride
  if any(s % (4 * stride) for s in sizes):
    raise SystemExit(f"--sizes: each must be a multiple of {4 * stride} (two 2x2 pools, stride {stride})")
  source = load_source(DATASET, SPLIT, "")
  protocol = protocols.for_dataset(DATASET, 20.0)
  rows = {}
  for v in variants:
    rows[v] = evaluator.evaluate_frames(lambda f, v=v: final_pass_joints(model, f, v[0], args.passes, v[1]),
                                        source, protocol=protocol, max_distance=max(DISTANCES),
                                        desc=f"S'={v[0]} x{v[1]}")
  frames = [frames_lib.record_image(source[i]) for i in range(len(source))]
  for size in sizes:  # warm-up: compiles every bucket at this size
    final_pass_joints(model, frames, size, args.passes)
  seconds = {v: [] for v in variants}
  for _ in range(args.repeats):
    for v in variants:
      t0 = time.perf_counter()
      final_pass_joints(model, frames, v[0], args.passes, v[1])
      seconds[v].append(time.perf_counter() - t0)
  names = rows[variants[0]]["joint_names"]
  print(f"{DATASET}:{SPLIT} ({len(source)} frames), {args.workdir}, {args.passes} passes, "
        f"flip test {'on' if args.flip_test else 'off'}; final pass at S' (person search at "
        f"{model.input_size})\n")
  print("| S' | box scales | " + " | ".join(f"avg @{d}" for d in DISTANCES) + " | "
        + " | ".join(f"{n} @10" for n in names) + " | frames/s |")
  print("|---" * (3 + len(DISTANCES) + len(names)) + "|")
  for v in variants:
    r = rows[v]
    avg = [f"{100 * float(r['average'][d]):.1f}" for d in DISTANCES]
    per = [f"{100 * float(x):.1f}" for x in r["per_joint"][10]]
    fps = len(frames) / float(np.median(seconds[v]))
    print(f"| {v[0]} | {', '.join(f'{f:g}' for f in v[1])} | " + " | ".join(avg) + " | " + " | ".join(per)
          + f" | {fps:.1f} |")


if __name__ == "__main__":
  main()
