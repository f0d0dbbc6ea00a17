"""Composed vs direct flow in flowing inference: pooled heatmaps, joint accuracy, flow error.

  python benchmarks/flow_mode_accuracy.py --stage1 workdirs/demo [--n 15] [--flow_source dis_medium]
      [--data_dir DIR] [--videos 8]
  python benchmarks/flow_mode_accuracy.py --workdir workdirs/flow_parametric

The flowing model: a trained flowing workdir (``--workdir``), or configs/flow.py
(parametric pooling at its initial 1/T weights, window 2n+1) on the HeatmapNet
of the single-frame run in ``--stage1``. For ``Predictor.flowing_heatmaps``
with mode "direct" (2n flows per frame) and "composed" (two per frame, chained)
it prints:
  - on the real clip ../shared/data/realvideo (20 JHMDB frames, coarse labels:
    d = 10, 20 px; skipped when ../shared is absent): accuracy of all joints
    single-frame, direct, composed; max / mean abs difference of the pooled maps;
  - on the synthetic test videos of the stage-1 dataset (exact flow known):
    the same at d = 6 px, and the end-point error of the heatmap-grid flows
    centre -> t+k (heatmap px, known points, k = 1 .. n) of direct and
    composed OpenCV flow against the exact flow chained along the clip.
"""

import argparse
import json
import os
import time

import numpy as np

from _common import commit
from flowpose_jax.configs import flow as flow_config
from flowpose_jax import heatmaps as codec, inference, media, workdir as workdir_lib
from flowpose_jax.data import windows
from flowpose_jax.data.sources import load_source
from flowpose_jax.evaluate import pck
from flowpose_jax.flow import compute
from flowpose_jax.train import state as state_lib

REALVIDEO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                         "realvideo", "jhmdb_goalkeeper_a")
MODES = compute.MODES


def predictor_from(args) -> inference.Predictor:
  if args.workdir:
    return inference.load(args.workdir)
  c = flow_config.get_config("parametric")
  c.flow.n = args.n
  graphdef, params = workdir_lib.make_model(c)
  return inference.Predictor(c, graphdef, state_lib.load_pretrained(params, args.stage1))


def accuracy(joints, gt, visible, distances) -> list[float]:
  acc = pck.PCKAccumulator(np.array(distances, np.float64))
  acc.update(joints, gt, visible)
  return [float(a) for a in acc.result()["average"]]


def compare(predictor, clips, distances, source):
  """clips: [(frames [T, H, W, 3], joints [T, 7, 2] frame px, visible [T, 7])] -> printed comparison."""
  maps = {m: [] for m in MODES}
  joints = {m: [] for m in ("single-frame",) + MODES}
  seconds = dict.fromkeys(MODES, 0.0)
  for frames, _, _ in clips:
    inputs, mats = predictor.preprocess(frames)
    joints["single-frame"].append(predictor.joints(frames)[0])
    frame_hw = np.array([f.shape[:2] for f in frames], np.float32)
    for m in MODES:
      t = time.perf_counter()
      hm = predictor.flowing_heatmaps(frames, source=source, mode=m)
      seconds[m] += time.perf_counter() - t
      maps[m].append(hm)
      joints[m].append(codec.decode_to_frame(hm, mats, predictor.stride, frame_hw)[0])
  gt = np.concatenate([g for _, g, _ in clips])
  visible = np.concatenate([v for _, _, v in clips])
  print("| | " + " | ".join(f"all joints @ {d:g} px" for d in distances) + " |")
  print("|---|" + "---|" * len(distances))
  for name, j in joints.items():
    print(f"| {name} | " + " | ".join(f"{100 * a:.1f} %" for a in accuracy(np.concatenate(j), gt, visible, distances))
          + " |")
  d = np.abs(np.concatenate(maps["composed"]) - np.concatenate(maps["direct"]))
  peak = np.abs(np.concatenate(maps["direct"])).max()
  jd = np.linalg.norm(np.concatenate(joints["composed"]) - np.concatenate(joints["direct"]), axis=-1)
  print(f"composed - direct pooled maps: max abs {d.max():.4f}, mean abs {d.mean():.5f} (direct's max |map| "
        f"{peak:.3f}); joints: median {np.median(jd):.2f} px, max {jd.max():.1f} px apart")
  frames_total = sum(len(f) for f, _, _ in clips)
  print("frames/s (first run of each clip, warm-up included): " + ", ".join(
      f"{m} {frames_total / s:.1f}" for m, s in seconds.items()))


def flow_errors(predictor, videos, n, source):
  """EPE (heatmap px) of direct and composed heatmap-grid flows centre -> t+k against the chained exact flow."""
  s, stride = predictor.input_size, predictor.stride
  identity = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
  points = codec.heatmap_points(identity, s, stride)
  errors = {m: [[] for _ in range(n)] for m in MODES}
  for frames, flows in videos:  # frames are S x S: input = frame
    dis_steps = [compute.flow_between(frames[t], frames[t + 1], source) for t in range(len(frames) - 1)]
    for t in range(0, len(frames) - n, max(1, n // 2)):
      idx = np.arange(t, t + n + 1)
      exact, known = inference.composed_window_flows(t, idx, flows[t:t + n], [], points, frames.shape[1:3],
                                                     identity, stride)
      direct, dk = windows.flows_to_heatmap(np.stack([compute.flow_between(frames[t], frames[j], source)
                                                      for j in idx]), identity, s, stride)
      comp, ck = inference.composed_window_flows(t, idx, dis_steps[t:t + n], [], points, frames.shape[1:3],
                                                 identity, stride)
      for m, (f, k) in {"direct": (direct, dk), "composed": (comp, ck)}.items():
        for i in range(1, n + 1):
          ok = (known[i, ..., 0] * k[i, ..., 0]) > 0
          errors[m][i - 1].append(np.linalg.norm(f[i][ok] - exact[i][ok], axis=-1))
  shown = sorted({1, 2, 4, 8, n} & set(range(1, n + 1)))
  print("\nflow end-point error vs exact, heatmap px (median over known points), by offset k:")
  print("| flow | " + " | ".join(f"k = {k}" for k in shown) + " |")
  print("|---|" + "---|" * len(shown))
  for m in MODES:
    print(f"| {m} | " + " | ".join(f"{np.median(np.concatenate(errors[m][k - 1])):.3f}" for k in shown) + " |")


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--stage1", default="", help="single-frame workdir whose HeatmapNet the flowing model uses")
  p.add_argument("--workdir", default="", help="a trained flowing workdir (configs/flow.py) instead")
  p.add_argument("--n", type=int, default=15)
  p.add_argument("--flow_source", default=compute.DEFAULT_METHOD, choices=compute.METHODS)
  p.add_argument("--data_dir", default=None, help="TFDS dir of the stage-1 dataset (default: its config's)")
  p.add_argument("--videos", type=int, default=8)
  p.add_argument("--clip", default=REALVIDEO)
  args = p.parse_args()
  if bool(args.stage1) == bool(args.workdir):
    raise SystemExit("give one of --stage1 (single-frame workdir) or --workdir (flowing workdir)")
  predictor = predictor_from(args)
  n = (int(predictor.config.model.num_frames) - 1) // 2
  print(f"commit {commit()}, {time.strftime('%Y-%m-%d')}; model {args.workdir or 'flow.py on ' + args.stage1}, "
        f"n = {n}, flow {args.flow_source} on the network inputs")
  if os.path.isdir(args.clip):
    with open(os.path.join(args.clip, "annotations.json"), encoding="utf-8") as f:
      ann = json.load(f)
    frames = np.stack([media.read_image(os.path.join(args.clip, fr["image"])) for fr in ann["frames"]])
    gt = np.array([fr["joints"] for fr in ann["frames"]], np.float32)
    print(f"\nreal clip {os.path.basename(args.clip)}: {len(frames)} frames "
          f"{frames.shape[2]}x{frames.shape[1]}, whole frame letterboxed")
    compare(predictor, [(frames, gt, np.ones(gt.shape[:2], bool))], (10.0, 20.0), args.flow_source)
  else:
    print(f"\nskipped the real clip: {os.path.normpath(args.clip)} not found (../shared is absent)")
  stage1 = workdir_lib.load(args.stage1 or args.workdir).config
  source = load_source(stage1.dataset.name, stage1.dataset.test_split, args.data_dir or stage1.dataset.data_dir)
  by_video = {}
  for i in range(len(source)):
    r = source[i]
    by_video.setdefault(int(r["video_id"]), []).append((int(r["frame_index"]), r))
  videos = []
  for vid in sorted(by_video)[:args.videos]:
    records = [r for _, r in sorted(by_video[vid], key=lambda x: x[0])]
    videos.append([np.stack([r[k] for r in records]) for k in ("image", "joints", "visible", "flow")])
  print(f"\nsynthetic {stage1.dataset.name} {stage1.dataset.test_split}: {len(videos)} videos, "
        f"{sum(len(v[0]) for v in videos)} frames {videos[0][0].shape[2]}x{videos[0][0].shape[1]}")
  compare(predictor, [(f, j, v) for f, j, v, _ in videos], (6.0,), args.flow_source)
  flow_errors(predictor, [(f, fl) for f, _, _, fl in videos], n, args.flow_source)


if __name__ == "__main__":
  main()
