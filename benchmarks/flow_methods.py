"""Flow methods for warping: accuracy and speed, direct t->t+k vs composed consecutive flows.

For synthetic signer videos (``flowpose_jax.data.synthetic.render_video``) at
128² and 256², and for OpenCV DIS (ultrafast / fast / medium presets) and
Farneback, prints the end-point error (median and mean, px at frame
resolution) of the flow t -> t+k against ground truth and the time per pair,
for k in {1, 2, 4, 8, 15}, computed either directly (``flow_between(f_t,
f_tk)``) or by composing k consecutive flows (``compose_flows``).

Ground truth t -> t+k composes the renderer's exact consecutive flows. Every
part moves affinely and bilinear sampling reproduces affine fields exactly,
so the composition is exact wherever each step's 4 bilinear taps lie on the
same part as the starting pixel; only those pixels are scored (points that
stay visible and tracked for all k steps; "cover" = their fraction of the
body pixels). Scores are over body pixels (part id > 0); background is static.
Composed estimates that left the frame (NaN) are scored as missing and
counted in "lost" (and as outliers in ">2px", the fraction of scored pixels
with EPE > 2 px or lost; the mean/median skip lost pixels).

Timing: "direct ms" is one flow call per pair; "composed ms" is what one pair
costs alone (k flow calls + k-1 compositions). In a sliding 2n+1 window the
consecutive flows are shared, so composed windows cost about 2 flow calls +
2n compositions per centre frame; that amortised figure is printed too.

  python benchmarks/flow_methods.py               # ~2 min on 2 cores
  python benchmarks/flow_methods.py --videos 1 --sizes 128
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time

import cv2
import numpy as np

from flowpose_jax.data.synthetic import render_video  # pylint: disable=wrong-import-position
from flowpose_jax.flow import compute  # pylint: disable=wrong-import-position

KS = (1, 2, 4, 8, 15)
START_STRIDE = 5  # frames between scored start frames t
OUTLIER_PX = 2.0  # EPE above this (or lost) counts as an outlier


def exact_gt(flows: np.ndarray, ids: np.ndarray, t: int, k: int) -> tuple[np.ndarray, np.ndarray]:
  """Ground-truth flow t -> t+k and the mask of pixels where it is exact.

  Args:
    flows: [T, H, W, 2] exact consecutive flows; ids: [T, H, W] part ids.

  Returns:
    flow [H, W, 2] float32, mask [H, W] bool.
  """
  h, w = ids.shape[1:]
  ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
  part = ids[t]
  total = flows[t].astype(np.float64)
  ok = part > 0
  for i in range(1, k):
    px, py = xs + total[..., 0], ys + total[..., 1]
    inside = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
    x0 = np.clip(np.floor(np.nan_to_num(px)).astype(int), 0, w - 2)
    y0 = np.clip(np.floor(np.nan_to_num(py)).astype(int), 0, h - 2)
    same = np.ones_like(ok)
    for dy in (0, 1):
      for dx in (0, 1):
        same &= ids[t + i][y0 + dy, x0 + dx] == part
    ok &= inside & same
    total = total + compute.sample_bilinear(flows[t + i], px, py, outside="edge")
  # The last step's end point must also land on the same part in frame t+k.
  px, py = xs + total[..., 0], ys + total[..., 1]
  inside = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
  xi = np.clip(np.rint(np.nan_to_num(px)).astype(int), 0, w - 1)
  yi = np.clip(np.rint(np.nan_to_num(py)).astype(int), 0, h - 1)
  if t + k < ids.shape[0]:
    ok &= inside & (ids[t + k][yi, xi] == part)
  return total.astype(np.float32), ok


def timed(fn, *args):
  t0 = time.perf_counter()
  out = fn(*args)
  return out, (time.perf_counter() - t0) * 1e3


def run(sizes, methods, num_videos, num_frames, seed):
  rows = []
  for size in sizes:
    videos = [render_video(seed + i, num_frames, size, size) for i in range(num_videos)]
    for method in methods:
      compute.flow_between(videos[0]["image"][0], videos[0]["image"][1], method)  # warm up
      stats = {(mode, k): dict(err=[], ms=[], lost=[], cover=[]) for mode in compute.MODES for k in KS}
      consec_ms, compose_ms = [], []
      for v in videos:
        frames, gt_flows, ids = v["image"], v["flow"], v["part_ids"]
        consec = []
        for t in range(num_frames - 1):
          f, ms = timed(compute.flow_between, frames[t], frames[t + 1], method)
          consec.append(f)
          consec_ms.append(ms)
        for t in range(0, num_frames - max(KS), START_STRIDE):
          chain = consec[t]
          chains = {1: chain}
          for i in range(1, max(KS)):
            chain, ms = timed(compute.compose_flows, chain, consec[t + i])
            compose_ms.append(ms)
            chains[i + 1] = chain
          for k in KS:
            gt, ok = exact_gt(gt_flows, ids, t, k)
            body = ids[t] > 0
            direct, ms = timed(compute.flow_between, frames[t], frames[t + k], method)
            for mode, est in (("direct", direct), ("composed", chains[k])):
              s = stats[(mode, k)]
              e = np.linalg.norm(est - gt, axis=-1)[ok]
              s["lost"].append(np.mean(~np.isfinite(e)) if e.size else 0.0)
              s.setdefault("outlier", []).append(np.mean(~(e <= OUTLIER_PX)) if e.size else 0.0)
              s["err"].append(e[np.isfinite(e)])
              s["cover"].append(ok.sum() / max(body.sum(), 1))
            stats[("direct", k)]["ms"].append(ms)
      flow_ms, comp_ms = float(np.median(consec_ms)), float(np.median(compose_ms))
      for k in KS:
        row = dict(size=size, method=method, k=k, cover=float(np.mean(stats[("direct", k)]["cover"])),
                   flow_ms=flow_ms, compose_ms=comp_ms)
        for mode in compute.MODES:
          err = np.concatenate(stats[(mode, k)]["err"])
          row[f"{mode}_median"] = float(np.median(err))
          row[f"{mode}_mean"] = float(np.mean(err))
          row[f"{mode}_lost"] = float(np.mean(stats[(mode, k)]["lost"]))
          row[f"{mode}_outlier"] = float(np.mean(stats[(mode, k)]["outlier"]))
        row["direct_ms"] = float(np.median(stats[("direct", k)]["ms"]))
        row["composed_ms"] = k * flow_ms + (k - 1) * comp_ms
        rows.append(row)
  return rows


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
  p.add_argument("--methods", nargs="+", default=list(compute.available_methods()),
                 choices=compute.available_methods())
  p.add_argument("--videos", type=int, default=3)
  p.add_argument("--frames", type=int, default=31)
  p.add_argument("--seed", type=int, default=100)
  args = p.parse_args()
  if args.frames <= max(KS):
    p.error(f"--frames must exceed {max(KS)}")
  try:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
  except OSError:
    commit = "?"
  print(f"# flow_methods: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads), commit {commit}")
  print(f"# {args.videos} synthetic videos x {args.frames} frames per size, seed {args.seed}; "
        f"EPE in frame px over exactly-tracked body pixels")
  rows = run(args.sizes, args.methods, args.videos, args.frames, args.seed)
  hdr = (f"{'size':>4} {'method':<13} {'k':>2} {'cover':>5} | {'direct med/mean EPE':>19} "
         f"{'>2px':>5} {'ms':>6} | {'composed med/mean EPE':>21} {'>2px':>5} {'lost':>5} {'ms':>7} "
         f"| more accurate by median, mean / faster")
  print(hdr)
  print("-" * len(hdr))
  for r in rows:
    better_med = "direct" if r["direct_median"] <= r["composed_median"] else "composed"
    better_mean = "direct" if r["direct_mean"] <= r["composed_mean"] else "composed"
    better = f"{better_med}, {better_mean}"
    faster = "direct" if r["direct_ms"] <= r["composed_ms"] else "composed"
    print(f"{r['size']:>4} {r['method']:<13} {r['k']:>2} {r['cover']:>5.2f} | "
          f"{r['direct_median']:>8.3f} / {r['direct_mean']:>8.3f} {r['direct_outlier']:>5.3f} "
          f"{r['direct_ms']:>6.1f} | "
          f"{r['composed_median']:>9.3f} / {r['composed_mean']:>9.3f} {r['composed_outlier']:>5.3f} "
          f"{r['composed_lost']:>5.3f} "
          f"{r['composed_ms']:>7.1f} | {better} / {faster}")
  print()
  print("# per (size, method): one flow call (median ms), one composition (ms), and a 2n+1 = 31 window's")
  print("# cost: direct = 30 flow calls; composed, sliding over a video = ~2 flow calls + 30 compositions")
  seen = set()
  for r in rows:
    key = (r["size"], r["method"])
    if key in seen:
      continue
    seen.add(key)
    direct_win = 30 * r["flow_ms"]
    comp_win = 2 * r["flow_ms"] + 30 * r["compose_ms"]
    print(f"{r['size']:>4} {r['method']:<13} flow {r['flow_ms']:6.2f} ms  compose {r['compose_ms']:5.2f} ms  "
          f"window: direct {direct_win:7.1f} ms, composed {comp_win:7.1f} ms")
  print()
  for stat in ("median", "mean"):
    wins = {m: sum(r[f"direct_{stat}"] <= r[f"composed_{stat}"] for r in rows
                   if r["k"] > 1 and r["method"] == m) for m in args.methods}
    total = {m: sum(1 for r in rows if r["k"] > 1 and r["method"] == m) for m in args.methods}
    print(f"# direct more accurate by {stat} EPE (k > 1, all sizes): " + ", ".join(
        f"{m} {wins[m]}/{total[m]}" for m in args.methods))
  fastest = min(rows, key=lambda r: r["flow_ms"])
  print(f"# fastest flow call: {fastest['method']} at {fastest['size']}² ({fastest['flow_ms']:.2f} ms)")


if __name__ == "__main__":
  main()
