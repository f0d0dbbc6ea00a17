"""``flowpose predict --runtime``: JAX vs onnxruntime on real frames, speed and accuracy difference.

  python benchmarks/predict_runtime.py --workdir workdirs/demo [--video ../shared/data/video/...mp4]
      [--frames 64] [--repeats 3]

On the real images of ../shared/data/realpose (720x405 Buffy frames) and the
first ``--frames`` frames of a real video: ``Predictor.joints`` frames/s with
the JAX runtime and with the ONNX graph on onnxruntime (batch 1 and
``batch_size``), warmed up on the exact calls, then timed interleaved
(``--repeats`` rounds, median); the max abs heatmap difference and the max
joint difference (frame px) of onnxruntime against JAX; and what
``--runtime auto`` picks on the last set (its log line).
"""

import argparse
import logging
import os
import statistics
import time

import cv2
import numpy as np

from _common import commit
from flowpose_jax import inference, media, runtimes

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--workdir", required=True, help="a single-frame training workdir, e.g. workdirs/demo")
  p.add_argument("--video", default=os.path.join(SHARED, "video", "selfie_segmentation_web.mp4"))
  p.add_argument("--frames", type=int, default=64)
  p.add_argument("--repeats", type=int, default=3)
  args = p.parse_args()
  realpose = os.path.join(SHARED, "realpose")
  sets = {}
  if os.path.isdir(realpose):
    names = sorted(n for n in os.listdir(realpose) if n.endswith(".jpg"))
    sets[f"realpose ({len(names)} images)"] = np.stack([cv2.imread(os.path.join(realpose, n))[..., ::-1]
                                                         for n in names])
  if os.path.exists(args.video):
    frames, _ = media.read_video(args.video, max_frames=args.frames)
    sets[f"{os.path.basename(args.video)} ({len(frames)} frames)"] = frames
  if not sets:
    raise SystemExit(f"no real frames: {os.path.normpath(SHARED)} is absent")
  jax_p = inference.load(args.workdir)
  onnx = runtimes.OnnxFrames(jax_p)
  print(f"commit {commit()}, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; model {args.workdir} ({jax_p.config.model.name}, input {jax_p.input_size}, "
        f"batch_size {jax_p.batch_size})")
  print("\n| frames | JAX frames/s | onnxruntime b1 | onnxruntime b16 | max abs heatmap diff | max joint diff (px) |")
  print("|---|---|---|---|---|---|")
  for label, frames in sets.items():
    predictors = {}
    for name, run in (("jax", None), ("onnx_b1", onnx.with_batch(1)),
                      ("onnx_b16", onnx.with_batch(jax_p.batch_size))):
      predictors[name] = inference.Predictor(jax_p.config, jax_p.graphdef, jax_p.params)
      if run is not None:
        predictors[name].set_runtime("onnxruntime", run)
    results = {name: (pr.heatmaps(frames), pr.joints(frames)[0]) for name, pr in predictors.items()}  # warm-up
    seconds = {name: [] for name in predictors}
    for _ in range(args.repeats):
      for name, pr in predictors.items():
        t = time.perf_counter()
        pr.joints(frames)
        seconds[name].append(time.perf_counter() - t)
    rate = {name: len(frames) / statistics.median(s) for name, s in seconds.items()}
    maps_diff = max(np.abs(results[n][0] - results["jax"][0]).max() for n in ("onnx_b1", "onnx_b16"))
    joint_diff = max(np.abs(results[n][1] - results["jax"][1]).max() for n in ("onnx_b1", "onnx_b16"))
    print(f"| {label} | {rate['jax']:.1f} | {rate['onnx_b1']:.1f} | {rate['onnx_b16']:.1f} | "
          f"{maps_diff:.2e} | {joint_diff:.4f} |")
  auto = inference.Predictor(jax_p.config, jax_p.graphdef, jax_p.params)
  runtimes.use(auto, "auto")
  print()
  logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)  # the choice and its timings (runtimes.log)
  auto.joints(list(sets.values())[-1])


if __name__ == "__main__":
  main()
