"""Speed of flowing video inference (flow included) and where the time goes.

  python benchmarks/flow_inference.py [--video ../shared/data/video/selfie_segmentation_web.mp4]
      [--frames 40] [--n 15] [--method dis_medium] [--stage1 WORKDIR]

Builds the flowing model of ``configs/flow.py`` (the demo-sized HeatmapNet,
window 2n+1; params from ``--stage1`` if given, else random: speed does not
depend on them) and times ``Predictor.flowing_heatmaps`` on the clip, against
single-frame prediction of the same frames in the same run. Both are warmed up
on the same calls first, so no compilation is timed.
"""

import argparse
import os
import time

import jax  # noqa: E402

from _common import commit  # noqa: E402
from configs import flow as flow_config  # noqa: E402
from flowpose_jax import media  # noqa: E402
from flowpose_jax.inference import Predictor  # noqa: E402
from flowpose_jax import workdir as workdir_lib  # noqa: E402
from flowpose_jax.train import state as state_lib  # noqa: E402

DEFAULT_VIDEO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                             "data", "video", "selfie_segmentation_web.mp4")


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--video", default=DEFAULT_VIDEO)
  p.add_argument("--frames", type=int, default=40)
  p.add_argument("--n", type=int, default=15)
  p.add_argument("--method", default="dis_medium")
  p.add_argument("--stage1", default="")
  p.add_argument("--flow_on", default="input", choices=("input", "frame"))
  args = p.parse_args()
  c = flow_config.get_config("parametric")
  c.flow.n = args.n
  c.init_from = args.stage1
  graphdef, params = workdir_lib.make_model(c)
  if args.stage1:
    params = state_lib.load_pretrained(params, args.stage1)
  predictor = Predictor(c, graphdef, params)
  frames, _ = media.read_video(args.video, max_frames=args.frames)
  # Warm up on the exact timed calls: every bucketed batch shape compiles here, not in the timed region.
  predictor.joints(frames)
  predictor.flowing_heatmaps(frames, method=args.method, flow_on=args.flow_on)
  t = time.perf_counter()
  predictor.joints(frames)
  single = time.perf_counter() - t
  timings = {}
  t = time.perf_counter()
  predictor.flowing_heatmaps(frames, method=args.method, flow_on=args.flow_on, timings=timings)
  flowing = time.perf_counter() - t
  n = len(frames)
  print(f"device: {jax.devices()[0].device_kind}  jax {jax.__version__}  commit {commit()}")
  print(f"clip {os.path.basename(args.video)}: {n} frames {frames.shape[2]}x{frames.shape[1]}; "
        f"input {c.input.size}, width {c.model.width}, n = {args.n} ({2 * args.n + 1} frames/window), "
        f"flow {args.method} on the {args.flow_on}")
  print(f"single-frame: {n / single:.1f} frames/s")
  print(f"flowing:      {n / flowing:.2f} frames/s ({flowing / single:.1f}x the single-frame time)")
  for k, v in sorted(timings.items(), key=lambda kv: -kv[1]):
    print(f"  {k:<12} {v / n * 1e3:8.1f} ms/frame  ({100 * v / flowing:4.1f} %)")


if __name__ == "__main__":
  main()
