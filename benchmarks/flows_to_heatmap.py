"""``windows.flows_to_heatmap`` now against an earlier commit's, interleaved, after a warm-up.

  PYTHONPATH=. python benchmarks/flows_to_heatmap.py [--against 77505c0] [--rounds 7]

Loads the function as it was at ``--against`` (``git show``, so run it in a git
checkout; 77505c0 masks and samples whole frames), checks that both give the
same confidence and flows within 1e-5 px on each case, and prints the median
time of each and the ratio: a 31-frame window of flows on the 128 px network
inputs (what flowing inference computes) and on 640x360 frames.
"""

import argparse
import statistics
import subprocess
import time
import types

import numpy as np

from _common import commit
from flowpose_jax.data import windows

CASES = ((31, 128, 128, 128), (31, 360, 640, 128))  # (T, flow height, flow width, input size)
STRIDE = 4


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--against", default="77505c0")
  p.add_argument("--rounds", type=int, default=7)
  args = p.parse_args()
  source = subprocess.check_output(["git", "show", f"{args.against}:flowpose_jax/data/windows.py"], text=True)
  old = types.ModuleType("windows_then")
  exec(compile(source, f"{args.against}:windows.py", "exec"), old.__dict__)  # pylint: disable=exec-used
  print(f"commit {commit()} against {args.against}")
  rng = np.random.default_rng(0)
  for t, fh, fw, size in CASES:
    flows = rng.normal(0, 3, (t, fh, fw, 2)).astype(np.float32)
    scale = size / fw
    matrix = np.array([[scale, 0, 0], [0, scale, (size - fh * scale) / 2]], np.float32)  # letterbox
    then, now = old.flows_to_heatmap(flows, matrix, size, STRIDE), windows.flows_to_heatmap(flows, matrix, size, STRIDE)
    assert np.array_equal(then[1], now[1]) and np.abs(then[0] - now[0]).max() < 1e-5, "results differ"
    times = {"then": [], "now": []}
    for _ in range(args.rounds):
      for name, fn in (("then", old.flows_to_heatmap), ("now", windows.flows_to_heatmap)):
        start = time.perf_counter()
        fn(flows, matrix, size, STRIDE)
        times[name].append(time.perf_counter() - start)
    a, b = statistics.median(times["then"]), statistics.median(times["now"])
    print(f"T={t}, flows {fw}x{fh} -> {size // STRIDE}x{size // STRIDE}: {args.against} {a * 1e3:.1f} ms, "
          f"now {b * 1e3:.2f} ms, {a / b:.1f}x")


if __name__ == "__main__":
  main()
