"""Cost of motion spread in ``windows.flows_to_heatmap``: ``flow.spread`` 0 against R, interleaved.

  python benchmarks/flows_to_heatmap.py [--spread 4] [--rounds 7]

``flows_to_heatmap`` brings a window's frame flows to the heatmap grid; with
``spread`` R > 0 (configs/flow.py ``flow.spread``; the README's pooling-study
recipe uses 4) each heatmap pixel samples a grid of points within R input px
and keeps the largest known flow, so it reads (2 ceil(R / SPREAD_SPACING) + 1)^2
points instead of one. Flowing inference with direct flow calls it once per
window (``Predictor.flowing_heatmaps``), so this is part of its per-frame cost.
Prints the median time of each setting after a warm-up, the ratio, and the
share of heatmap pixels each leaves with a known flow, for a 31-frame window
(n = 15) of flows on the 128 px network inputs (what flowing inference
computes) and on 640x360 frames.
"""

import argparse
import statistics
import time

import numpy as np

from _common import commit
from flowpose_jax.data import windows

CASES = ((31, 128, 128, 128), (31, 360, 640, 128))  # (T, flow height, flow width, input size)
STRIDE = 4


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--spread", type=float, default=4.0, help="input px (the pooling-study recipe: 4)")
  p.add_argument("--rounds", type=int, default=7)
  args = p.parse_args()
  settings = (0.0, args.spread)
  samples = len(windows.spread_offsets(args.spread))
  print(f"commit {commit()}; spread 0 (1 sample per pixel) against spread {args.spread:g} ({samples} samples)")
  rng = np.random.default_rng(0)
  for t, fh, fw, size in CASES:
    flows = rng.normal(0, 3, (t, fh, fw, 2)).astype(np.float32)
    scale = size / fw
    matrix = np.array([[scale, 0, 0], [0, scale, (size - fh * scale) / 2]], np.float32)  # letterbox
    known = {s: float(windows.flows_to_heatmap(flows, matrix, size, STRIDE, s)[1].mean()) for s in settings}
    times = {s: [] for s in settings}
    for _ in range(args.rounds):  # interleaved, after the warm-up above
      for s in settings:
        start = time.perf_counter()
        windows.flows_to_heatmap(flows, matrix, size, STRIDE, s)
        times[s].append(time.perf_counter() - start)
    a, b = (statistics.median(times[s]) for s in settings)
    print(f"T={t}, flows {fw}x{fh} -> {size // STRIDE}x{size // STRIDE}: spread 0 {a * 1e3:.1f} ms "
          f"({known[0.0]:.1%} known), spread {args.spread:g} {b * 1e3:.1f} ms ({known[args.spread]:.1%} known), "
          f"{b / a:.1f}x")


if __name__ == "__main__":
  main()
