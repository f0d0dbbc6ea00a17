"""Speed of flowing video inference (flow included) and where the time goes.

  python benchmarks/flow_inference.py [--video ../shared/data/video/selfie_segmentation_web.mp4]
      [--frames 40] [--n 15] [--flow_source dis_medium] [--stage1 WORKDIR] [--repeats 2]
      [--runtime jax|onnx|auto] [--frame_size 720x405]
  python benchmarks/flow_inference.py --workdir FLOWING_WORKDIR --frame_size 720x405 [--whole_frame]

Builds the flowing model of ``configs/flow.py`` (the demo-sized HeatmapNet,
window 2n+1; params from ``--stage1`` if given, else random: speed does not
depend on them) and times ``Predictor.flowing_heatmaps`` on the clip, direct
and composed flow, each with the flows computed in this thread one after
another (``flow_workers=0``) and in flow threads overlapped with the network,
against single-frame prediction of the same frames. Every variant is warmed
up on its exact call first (no compilation is timed), then they run
interleaved, ``--repeats`` rounds, median reported. Accuracy of composed vs
direct: benchmarks/flow_mode_accuracy.py.

``--workdir``: a trained flowing model instead (its own n, input size, flow
spread and confidence; ``--n`` and ``--stage1`` do not apply), its trained
flow unless ``--flow_source`` is given. ``--whole_frame`` times what
``flowpose predict --flow`` runs on whole frames: ``Predictor.joints(frames,
flow=True)`` (the person-finding passes, then the flowing final pass) against
``Predictor.joints(frames)``; the stage columns then cover the final pass.
"""

import argparse
import os
import statistics
import time

import cv2  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

from _common import commit, compiled_flops, device_peak, machine_line  # noqa: E402
from flowpose_jax.configs import flow as flow_config  # noqa: E402
from flowpose_jax import media, runtimes  # noqa: E402
from flowpose_jax.flow import compute  # noqa: E402
from flowpose_jax.inference import Predictor, flowing_parts  # noqa: E402
from flowpose_jax.inference.trained_flow import flow_choice  # noqa: E402
from flowpose_jax import workdir as workdir_lib  # noqa: E402
from flowpose_jax.train import state as state_lib  # noqa: E402

DEFAULT_VIDEO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                             "data", "video", "selfie_segmentation_web.mp4")


def network_flops(config, graphdef, params) -> tuple[float, float]:
  """FLOPs per frame of the flowing model's two parts: the HeatmapNet, and warp + pooling of one window."""
  frame, pool = flowing_parts(graphdef)
  s, h, t = config.input.size, config.input.size // config.input.stride, int(config.model.num_frames)
  spec = jax.ShapeDtypeStruct
  frame_flops = compiled_flops(jax.jit(frame).lower(params, spec((1, s, s, 3), np.uint8)).compile())
  pool_flops = compiled_flops(jax.jit(pool).lower(
      params, spec((1, t, h, h, 7), np.float32), spec((1, t, h, h, 2), np.float32),
      spec((1, t, h, h, 1), np.float32)).compile())
  return frame_flops, pool_flops


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--video", default=DEFAULT_VIDEO)
  p.add_argument("--frames", type=int, default=40)
  p.add_argument("--n", type=int, default=15)
  p.add_argument("--flow_source", default=None, choices=compute.METHODS,
                 help=f"default: {compute.DEFAULT_METHOD}, or the --workdir model's trained flow")
  p.add_argument("--stage1", default="")
  p.add_argument("--workdir", default="", help="a trained flowing model (workdir or shipped name)")
  p.add_argument("--whole_frame", action="store_true", help="time Predictor.joints(flow=True), as predict --flow")
  p.add_argument("--flow_on", default="input", choices=("input", "frame"))
  p.add_argument("--repeats", type=int, default=2)
  p.add_argument("--runtime", default="jax", choices=runtimes.RUNTIMES, help="the per-frame network's")
  p.add_argument("--frame_size", default="", help="WxH: resize the video's frames first (e.g. 720x405)")
  args = p.parse_args()
  if args.workdir:
    trained = workdir_lib.load(args.workdir)
    c, graphdef, params = trained.config, trained.graphdef, trained.params
    if c.get("flow") is None:
      p.error(f"--workdir {args.workdir} is a single-frame model; give a flowing one (configs/flow.py)")
    args.n = (int(c.model.num_frames) - 1) // 2
  else:
    c = flow_config.get_config("parametric")
    c.flow.n = args.n
    c.init_from = args.stage1
    graphdef, params = workdir_lib.make_model(c)
    if args.stage1:
      params = state_lib.load_pretrained(params, args.stage1)
  predictor = Predictor(c, graphdef, params)
  source, _, _ = flow_choice(c, args.flow_source, None)
  confidence = (c.get("flow") or {}).get("confidence", compute.VALID_CONFIDENCE)
  if args.runtime != "jax":
    runtimes.use(predictor, args.runtime)
  frames, _ = media.read_video(args.video, max_frames=args.frames)
  if args.frame_size:
    w, h = (int(v) for v in args.frame_size.lower().split("x"))
    frames = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
  variants = {  # name -> flowing_heatmaps kwargs
      f"{mode}, {how}": dict(mode=mode, **workers)
      for mode in compute.MODES for how, workers in (("sequential flow", {"flow_workers": 0}), ("flow threads", {}))
  }
  runs = {"single-frame": lambda timings: predictor.joints(frames)}
  for name, kwargs in variants.items():
    if args.whole_frame:
      runs[name] = lambda timings, kwargs=kwargs: predictor.joints(
          frames, flow=True, source=source, flow_on=args.flow_on, timings=timings, **kwargs)
    else:
      runs[name] = lambda timings, kwargs=kwargs: predictor.flowing_heatmaps(
          frames, source=source, flow_on=args.flow_on, timings=timings, **kwargs)
  for run in runs.values():  # warm-up on the exact timed calls: every bucketed shape compiles here
    run({})
  seconds = {name: [] for name in runs}
  timings = {name: {} for name in runs}
  for _ in range(args.repeats):  # interleaved: every variant once per round
    for name, run in runs.items():
      t = time.perf_counter()
      run(timings[name])
      seconds[name].append(time.perf_counter() - t)
  n = len(frames)
  print(machine_line())
  print(f"jax {jax.__version__}; runtime {predictor.runtime}; commit {commit()}")
  print(f"clip {os.path.basename(args.video)}: {n} frames {frames.shape[2]}x{frames.shape[1]}; "
        f"input {c.input.size}, width {c.model.width}, n = {args.n} ({2 * args.n + 1} frames/window), "
        f"flow {source} on the {args.flow_on}, confidence {confidence}; "
        + (f"whole frames ({predictor.default_passes} passes, the last flowing); " if args.whole_frame else "")
        + f"median of {args.repeats} interleaved rounds")
  single = statistics.median(seconds["single-frame"])
  frame_flops, pool_flops = network_flops(c, graphdef, params)
  peak, how = device_peak("float32")
  print(f"network per frame (XLA cost analysis): HeatmapNet {frame_flops / 1e9:.2f} GFLOP, warp + pooling "
        f"{pool_flops / 1e9:.3f} GFLOP (OpenCV flow not counted); peak {peak / 1e9:.0f} GFLOP/s ({how})")
  print("\n| variant | frames/s | x single-frame time | per frame: flow (summed over threads) | preprocess | "
        "shots | HeatmapNet | warp + pool | network GFLOP/s (of peak) |")
  print("|---|---|---|---|---|---|---|---|---|")
  for name in runs:
    wall = statistics.median(seconds[name])
    per = {k: v / (n * args.repeats) * 1e3 for k, v in timings[name].items()}
    stages = " | ".join(f"{per[k]:.1f} ms" if k in per else "-"
                        for k in ("flow_s", "preprocess_s", "shots_s", "heatmapnet_s", "warp_pool_s"))
    rate = n / wall * (frame_flops + (0 if name == "single-frame" else pool_flops))
    print(f"| {name} | {n / wall:.2f} | {wall / single:.1f} | {stages} | {rate / 1e9:.1f} ({rate / peak:.1%}) |")

if __name__ == "__main__":
  main()
