"""Flow at the joints: each flow method's end-point error where the pose is, by joint speed, and its cost.

The flowing stage warps heatmaps with flow, so what matters is the flow at
the joints, above all at fast wrists and elbows, not its average over the
body (``flow_methods.py``). For synthetic signer videos
(``flowpose_jax.data.synthetic.render_video``) and every method of
``compute.available_methods()``, this prints the median end-point error (EPE)
at the joints of the flow t -> t+k, k in {1, 4, 8}, computed directly
(``flow_between(f_t, f_tk)``) or composed from consecutive flows along the
joint (``compute.track_points``, as flowing inference chains "composed"
flows at points), for wrists, elbows and all 7 joints, and per speed band of
the joint.

Resolutions: "frame" renders 405x720 (a 720x405 video, BBC Pose's 16:9 at
the size the speed benchmarks use; ``render_video`` takes any size, so
nothing is resized); "input" is the network input: a fixed square crop of
the frame (side = frame height, centred on the person's mean box) resized to
128² with ``cv2.INTER_AREA``, where ``flowing_maps(..., flow_on="input")``
computes flow. Every EPE and speed is in frame px (405-row frame): flow at
128² is divided by the scale 128/405, so the rows compare directly.

Truth: the joint's own displacement ``joints[t+k] - joints[t]`` (every part
moves affinely and its map carries its joints, so this is exact). A joint is
scored where it is inside the frame at t and t+k and "seen": the renderer's
exact flow, tracked from it for the k steps, agrees with its displacement
within ``SEEN_TOL_PX`` (so no other part or the occluder covers it on the
way; what no flow can see is not scored). Speed = the joint's path length
over the k steps / k, px/frame at frame resolution. The estimate is the
computed flow bilinearly sampled at the joint (``compute.sample_bilinear``);
a composed chain that leaves the frame is "lost", counted apart and not in
the medians.

Timing (``--repeats``, or ``--timing_only`` for nothing else): ms per pair of
720x405 frames and of 128² crops, median over repeats of every method, methods
interleaved (the order rotates each repeat) after one warm-up call each, with
OpenCV's default threads (``--threads`` sets them). The load average is
printed: on a shared machine rerun ``--timing_only`` when it is idle.

  PYTHONPATH=. python benchmarks/flow_joints.py --md benchmarks/results/flow_joints.md \\
      --png benchmarks/results/flow_joints.png          # ~15 min on 2 cores, tvl1 most of it
  PYTHONPATH=. python benchmarks/flow_joints.py --timing_only --repeats 10
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import time

import cv2
import numpy as np

from _common import commit, cpu_name  # pylint: disable=wrong-import-order
from flow_methods import timed  # pylint: disable=wrong-import-order
from flowpose_jax.data.synthetic import render_video
from flowpose_jax.flow import compute
from flowpose_jax.joints import JOINT_NAMES, JOINT_TYPES

FRAME_HW = (405, 720)  # frame resolution: a 720x405 video
INPUT_SIZE = 128  # network-input resolution (configs' input.size)
KS = (1, 4, 8)
COMPOSED_KS = (4, 8)  # k = 1 composed is the direct flow
START_STRIDE = 2  # frames between start frames t of the k > 1 pairs
SPEED_BANDS = (0.0, 2.0, 5.0, 10.0, np.inf)  # px/frame at frame resolution
SEEN_TOL_PX = 1.0  # exact tracked flow vs the joint's displacement, frame px
GROUPS = {"wrists": JOINT_TYPES["wrists"], "elbows": JOINT_TYPES["elbows"], "all 7": tuple(range(len(JOINT_NAMES)))}
RESOLUTIONS = ("frame", "input")


def band_labels() -> list[str]:
  """'<2', '2-5', ... for ``SPEED_BANDS``."""
  lo, hi = SPEED_BANDS[:-1], SPEED_BANDS[1:]
  return [f"<{h:g}" if l == 0 else f">{l:g}" if np.isinf(h) else f"{l:g}-{h:g}" for l, h in zip(lo, hi)]


def network_input(video: dict, size: int = INPUT_SIZE) -> tuple[np.ndarray, float, float]:
  """The video as network inputs: a fixed square crop around the person, resized.

  Args:
    video: ``render_video`` output ('image' [T, H, W, 3], 'box' [T, 4]).

  Returns:
    crops [T, size, size, 3] uint8, scale size / H, x0 (crop's left edge, frame px):
    frame point (x, y) is at ((x - x0 + 0.5) * scale - 0.5, (y + 0.5) * scale - 0.5).
  """
  frames = video["image"]
  h, w = frames.shape[1:3]
  centre = float(np.mean((video["box"][:, 0] + video["box"][:, 2]) / 2))
  x0 = int(np.clip(round(centre - h / 2), 0, max(w - h, 0)))
  crops = np.stack([cv2.resize(np.ascontiguousarray(f[:, x0:x0 + h]), (size, size), interpolation=cv2.INTER_AREA)
                    for f in frames])
  return crops, size / h, float(x0)


def joint_truth(video: dict, t: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Each joint's exact displacement t -> t+k, its speed, and whether it is scored.

  Returns:
    disp [7, 2] float32 frame px, speed [7] float32 px/frame (path length / k),
    scored [7] bool (inside the frame at t and t+k and seen: see the module docstring).
  """
  joints = video["joints"].astype(np.float64)
  disp = joints[t + k] - joints[t]
  speed = np.linalg.norm(np.diff(joints[t:t + k + 1], axis=0), axis=-1).sum(0) / k
  *_, tracked = compute.track_points(video["flow"][t:t + k], joints[t, :, 0], joints[t, :, 1])
  seen = np.linalg.norm(tracked - disp, axis=-1) <= SEEN_TOL_PX
  scored = video["visible"][t] & video["visible"][t + k] & seen
  return disp.astype(np.float32), speed.astype(np.float32), scored


def joint_errors(video: dict, methods, ks=KS, composed_ks=COMPOSED_KS, stride: int = START_STRIDE) -> list[dict]:
  """EPE at the scored joints of one video, for every (resolution, method, mode, k).

  Returns:
    one dict per (resolution, method, mode, k, t): 'epe' [7] float32 frame px
    (NaN: lost), 'speed' [7], 'scored' [7] bool, and the keys.
  """
  frames = video["image"]
  t_len = frames.shape[0]
  crops, scale, x0 = network_input(video)
  joints = video["joints"].astype(np.float64)
  at = {"frame": (frames, joints[..., 0], joints[..., 1], 1.0),
        "input": (crops, (joints[..., 0] - x0 + 0.5) * scale - 0.5, (joints[..., 1] + 0.5) * scale - 0.5, scale)}
  starts = {k: range(0, t_len - k, 1 if k == 1 else stride) for k in ks}
  truth = {(t, k): joint_truth(video, t, k) for k in ks for t in starts[k]}
  rows = []
  for res in RESOLUTIONS:
    imgs, jx, jy, s = at[res]
    size = imgs.shape[1]
    in_view = (jx >= 0) & (jx <= imgs.shape[2] - 1) & (jy >= 0) & (jy <= size - 1)  # [T, 7]: in the crop
    for method in methods:
      consec = [compute.flow_between(imgs[t], imgs[t + 1], method) for t in range(t_len - 1)]
      for k in ks:
        for t in starts[k]:
          disp, speed, scored = truth[(t, k)]
          flows = {"direct": consec[t] if k == 1 else compute.flow_between(imgs[t], imgs[t + k], method)}
          if k in composed_ks:
            *_, flows["composed"] = compute.track_points(consec[t:t + k], jx[t], jy[t])
          for mode, est in flows.items():
            if mode == "direct":
              est = compute.sample_bilinear(est, jx[t], jy[t], outside="edge")
            epe = np.linalg.norm(est / s - disp, axis=-1)
            rows.append(dict(res=res, method=method, mode=mode, k=k, t=t, epe=epe, speed=speed,
                             scored=scored & in_view[t] & in_view[t + k]))
  return rows


def summarise(rows: list[dict]) -> dict:
  """(res, method, mode, k) -> {'<group>': median EPE, '<group> <band>': median, 'n ...': count, 'lost': fraction}."""
  out = {}
  keys = sorted({(r["res"], r["method"], r["mode"], r["k"]) for r in rows},
                key=lambda q: (RESOLUTIONS.index(q[0]), compute.METHODS.index(q[1]), q[2] != "direct", q[3]))
  labels = band_labels()
  for key in keys:
    sel = [r for r in rows if (r["res"], r["method"], r["mode"], r["k"]) == key]
    epe = np.stack([r["epe"] for r in sel])  # [N, 7]
    speed = np.stack([r["speed"] for r in sel])
    scored = np.stack([r["scored"] for r in sel])
    band = np.digitize(speed, SPEED_BANDS[1:-1])
    stats = {"lost": float(np.mean(~np.isfinite(epe[scored])))}
    for group, idx in GROUPS.items():
      cols = list(idx)
      e, b, m = epe[:, cols], band[:, cols], scored[:, cols] & np.isfinite(epe[:, cols])
      stats[group] = float(np.median(e[m])) if m.any() else np.nan
      stats[f"n {group}"] = int(m.sum())
      for i, label in enumerate(labels):
        mb = m & (b == i)
        stats[f"{group} {label}"] = float(np.median(e[mb])) if mb.any() else np.nan
        stats[f"n {group} {label}"] = int(mb.sum())
    out[key] = stats
  return out


def time_methods(methods, pairs: dict, repeats: int) -> dict:
  """Median ms per flow call: {(res, method): ms}; ``pairs`` {res: (frame_a, frame_b)}.

  One warm-up call per method and resolution, then ``repeats`` rounds in
  which every method runs once per resolution, the order rotating each round.
  """
  times = {(res, m): [] for res in pairs for m in methods}
  for res, (a, b) in pairs.items():
    for m in methods:
      compute.flow_between(a, b, m)
  order = list(methods)
  for r in range(repeats):
    rot = order[r % len(order):] + order[:r % len(order)]
    for m in rot:
      for res, (a, b) in pairs.items():
        times[(res, m)].append(timed(compute.flow_between, a, b, m)[1])
  return {key: float(np.median(v)) for key, v in times.items()}


def timing_pairs(seed: int) -> dict:
  """{res: (frame_a, frame_b)}: one moving pair of a rendered 720x405 video and its 128² crops."""
  video = render_video(seed, 8, *FRAME_HW)
  crops, _, _ = network_input(video)
  return {"frame": (video["image"][6], video["image"][7]), "input": (crops[6], crops[7])}


def fmt(v: float) -> str:
  return "–" if not np.isfinite(v) else f"{v:.2f}"


def accuracy_tables(summary: dict, ms: dict, methods) -> list[str]:
  """Markdown: one table per resolution, a row per (method, mode, k)."""
  labels = band_labels()
  lines = []
  for res in RESOLUTIONS:
    size = f"{FRAME_HW[1]}x{FRAME_HW[0]} frames" if res == "frame" else f"{INPUT_SIZE}² network input"
    lines += ["", f"### {size}: median joint EPE, frame px (wrists and elbows also by speed band, px/frame)", ""]
    head = (["method", "flow", "ms/pair", "wrists"] + [f"wr {l}" for l in labels] + ["elbows"]
            + [f"el {l}" for l in labels] + ["all 7", "lost"])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    counts = None
    for (r, method, mode, k), st in summary.items():
      if r != res or method not in methods:
        continue
      cells = [method, f"{mode} k={k}", fmt(ms.get((res, method), np.nan)), fmt(st["wrists"])]
      cells += [fmt(st[f"wrists {l}"]) for l in labels] + [fmt(st["elbows"])]
      cells += [fmt(st[f"elbows {l}"]) for l in labels] + [fmt(st["all 7"]), f"{st['lost']:.3f}"]
      lines.append("| " + " | ".join(cells) + " |")
      if mode == "direct":
        counts = counts or {}
        counts[k] = st
    if counts:
      lines += ["", "Scored joints per k (wrists by band / elbows by band / all 7): " + "; ".join(
          f"k={k}: " + "/".join(str(st[f"n wrists {l}"]) for l in labels) + " · "
          + "/".join(str(st[f"n elbows {l}"]) for l in labels) + f" · {st['n all 7']}"
          for k, st in sorted(counts.items()))]
  return lines


def timing_table(ms: dict, methods) -> list[str]:
  lines = ["| method | ms per 720x405 pair | ms per 128² pair |", "|---|---|---|"]
  for m in methods:
    lines.append(f"| {m} | {fmt(ms[('frame', m)])} | {fmt(ms[('input', m)])} |")
  return lines


def figure(summary: dict, ms: dict, methods, path: str) -> None:
  """Median wrist EPE against ms per flow call, one panel per resolution.

  Points: direct k = 1 (o), composed k = 4 (s) and k = 8 (^); in a sliding
  window a composed flow costs about one flow call per frame, as k = 1 does.
  (Direct k = 4, 8 lose the fast wrists with every method: see the tables.)
  """
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
  markers = {("direct", 1): "o", ("composed", 4): "s", ("composed", 8): "^"}
  colours = dict(zip(methods, plt.cm.tab10(np.arange(len(methods)) % 10)))
  for ax, res in zip(axes, RESOLUTIONS):
    for m in methods:
      x = ms[(res, m)]
      for (mode, k), mk in markers.items():
        y = summary.get((res, m, mode, k), {}).get("wrists", np.nan)
        ax.scatter(x, y, marker=mk, color=colours[m], label=m if k == 1 else None)
      ax.annotate(m, (x, summary[(res, m, "direct", 1)]["wrists"]), fontsize=7, xytext=(3, 3),
                  textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ms per flow call (log)")
    ax.set_title(f"{FRAME_HW[1]}x{FRAME_HW[0]} frames" if res == "frame" else f"{INPUT_SIZE}² network input")
    ax.grid(True, which="both", alpha=0.3)
  axes[0].set_ylabel("median wrist EPE, frame px (log)")
  handles, labels = axes[0].get_legend_handles_labels()
  fig.legend(handles, labels, loc="lower center", ncol=len(methods), fontsize=7, frameon=False,
             title="o direct k=1, s composed k=4, ^ composed k=8", title_fontsize=7)
  fig.tight_layout(rect=(0, 0.1, 1, 1))
  fig.savefig(path, dpi=120)


def write_entry(path: str, lines: list[str], title: str) -> None:
  """Puts ``lines`` (one dated entry) at the top of ``path``'s entries, under its title (newest first)."""
  old = ""
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      old = f.read()
  head, _, rest = old.partition("\n") if old.startswith("# ") else (title, "", old)
  with open(path, "w", encoding="utf-8") as f:
    f.write(head + "\n\n" + "\n".join(lines).strip() + "\n" + ("\n" + rest.strip() + "\n" if rest.strip() else ""))


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  methods_ok = compute.available_methods()
  p.add_argument("--methods", nargs="+", default=list(methods_ok), choices=methods_ok)
  p.add_argument("--videos", type=int, default=3)
  p.add_argument("--frames", type=int, default=21)
  p.add_argument("--seed", type=int, default=300)
  p.add_argument("--repeats", type=int, default=3, help="timing rounds (all methods interleaved)")
  p.add_argument("--timing_only", action="store_true", help="only the ms per pair, no accuracy")
  p.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's)")
  p.add_argument("--note", default="", help="a line for the entry, e.g. what else ran on the machine")
  p.add_argument("--md", default=None, help="write the entry at the top of this markdown file")
  p.add_argument("--png", default=None, help="write the EPE vs ms figure here (needs matplotlib)")
  args = p.parse_args()
  if args.frames <= max(KS):
    p.error(f"--frames must exceed {max(KS)}")
  if args.threads is not None:
    cv2.setNumThreads(args.threads)
  load0 = os.getloadavg()[0]
  lines = [f"## {datetime.date.today().isoformat()}, commit {commit()}", "",
           "    PYTHONPATH=. " + " ".join(shlex.quote(a) for a in ["python", *sys.argv]), "",
           f"{cpu_name()}, {os.cpu_count()} cores, OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads, "
           f"contrib {'present' if compute.contrib_available() else 'absent'}), load average {load0:.1f} at the "
           f"start." + (f" {args.note}" if args.note else "")]
  t0 = time.perf_counter()
  ms = time_methods(args.methods, timing_pairs(args.seed), args.repeats)
  lines += ["", f"Time per flow call, median of {args.repeats} interleaved rounds after a warm-up:", ""]
  lines += timing_table(ms, args.methods)
  if not args.timing_only:
    rows = []
    for i in range(args.videos):
      video = render_video(args.seed + i, args.frames, *FRAME_HW)
      rows += joint_errors(video, args.methods)
      print(f"# video {i + 1}/{args.videos} done, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    summary = summarise(rows)
    lines += ["", f"{args.videos} synthetic videos x {args.frames} frames (seeds {args.seed}.."
              f"{args.seed + args.videos - 1}); k=1 at every frame, k > 1 every {START_STRIDE} frames; composed = "
              f"consecutive flows chained at the joint. EPE in frame px; '–': no joint in that band."]
    lines += accuracy_tables(summary, ms, args.methods)
    if args.png:
      figure(summary, ms, args.methods, args.png)
  lines += ["", f"Load average {os.getloadavg()[0]:.1f} at the end; {time.perf_counter() - t0:.0f} s in all."]
  print("\n".join(lines))
  if args.md:
    write_entry(args.md, lines, "# Flow at the joints: EPE by method, speed and k (newest first)")


if __name__ == "__main__":
  main()
