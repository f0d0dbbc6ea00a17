"""Single-frame vs flowing accuracy on the annotated real clip (../shared/data/realvideo).

  python benchmarks/realvideo_flow.py --workdir workdirs/flow_seed0 --workdir workdirs/flow_seed1 [--box]
      [--flow_causal] [--out DIR]

20 consecutive JHMDB frames (320x240) with coarse puppet-fit labels, so the
distances are d = 10 and 20 px. ``--box``: the person box from the labels
(their extent grown by 40 % of its larger side, ``joints.joints_box``) is given
to the model, as in the paper's protocols; otherwise the model finds the person
in the whole frame (``Predictor.joints``: its default passes, ``--passes``).
The flowing pass uses the flow the model was trained with (``inference.flow_choice``:
dis_medium for a model trained on exact flow); ``--flow_source``/``--flow_mode`` change it.

Each ``--workdir`` is one trained flowing model (e.g. one per training seed).
Printed per joint, joint type and all joints, at each d: single-frame and
flowing accuracy (mean over the models) and flowing minus single frame with a
95 % paired bootstrap interval that resamples the frames and the models
(``evaluate.pck.bootstrap_difference``); "includes 0" marks a difference the
clip cannot tell from none. ``--out`` also writes the numbers as JSON.
"""

import argparse
import json
import os
import platform

import numpy as np  # noqa: E402

import flowpose_jax  # noqa: E402
from flowpose_jax import media  # noqa: E402
from flowpose_jax.joints import joints_box  # noqa: E402
from flowpose_jax.evaluate import pck  # noqa: E402
from _common import commit  # noqa: E402

CLIP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                    "realvideo", "jhmdb_goalkeeper_a")
DISTANCES = (10.0, 20.0)
BOX_MARGIN = 0.4


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--workdir", action="append", required=True,
                 help="a flowing-model workdir (configs/flow.py); repeat for more training seeds")
  p.add_argument("--clip", default=CLIP)
  p.add_argument("--box", action="store_true")
  p.add_argument("--flow_causal", action="store_true", help="flowing: only past frames")
  p.add_argument("--flow_source", default=None, help="OpenCV flow method (default: as trained)")
  p.add_argument("--flow_mode", default=None, help="direct or composed (default: as trained)")
  p.add_argument("--passes", type=int, default=None, help="whole frame: 1, 2 or 3 (default: the model's)")
  p.add_argument("--draws", type=int, default=pck.BOOTSTRAP_DRAWS, help="bootstrap draws")
  p.add_argument("--out", default=None, help="folder for realvideo_flow.json")
  args = p.parse_args()
  with open(os.path.join(args.clip, "annotations.json")) as f:
    ann = json.load(f)
  frames = np.stack([media.read_image(os.path.join(args.clip, fr["image"])) for fr in ann["frames"]])
  gt = np.array([fr["joints"] for fr in ann["frames"]], np.float32)
  boxes = None
  if args.box:
    boxes = np.stack([joints_box(g, margin=BOX_MARGIN) for g in gt])
  visible = np.ones(gt.shape[:2], bool)
  flowing = {"flow": True, "causal": args.flow_causal, "source": args.flow_source, "mode": args.flow_mode}
  errors = {"single-frame": [], "flowing": []}
  passes = None
  for workdir in args.workdir:
    model = flowpose_jax.load(workdir)
    passes = args.passes or model.default_passes
    for name, kwargs in (("single-frame", {}), ("flowing", flowing)):
      joints, _ = model.joints(frames, boxes, passes=args.passes, **kwargs)
      errors[name].append(pck.joint_errors(joints, gt, visible))
  view = "box given" if args.box else f"whole frame, {passes} pass(es)"
  print(f"{len(frames)} frames of {os.path.basename(args.clip)}, {view}, {len(args.workdir)} model(s); "
        f"flowing - single frame with a {100 * pck.BOOTSTRAP_LEVEL:.0f} % paired bootstrap interval over frames "
        f"and models ({args.draws} draws)\n")
  results = []
  for d in DISTANCES:
    res = pck.bootstrap_difference(np.stack(errors["single-frame"]), np.stack(errors["flowing"]), d,
                                   draws=args.draws)
    results.append(res)
    print(f"| d = {d:g} px | single frame | flowing | difference | interval | |\n|---|---|---|---|---|---|")
    for name, r in res["rows"].items():
      print(f"| {name} | {r['a']:.1f} | {r['b']:.1f} | {r['difference']:+.1f} | [{r['low']:+.1f}, {r['high']:+.1f}] "
            f"| {'includes 0' if r['includes_zero'] else ''} |")
    print()
  if args.out:
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "realvideo_flow.json"), "w") as f:
      json.dump({"commit": commit(), "host": platform.node(), "workdirs": args.workdir, "view": view,
                 "clip": os.path.basename(args.clip), "flow": {k: v for k, v in flowing.items() if k != "flow"},
                 "results": results}, f, indent=1)


if __name__ == "__main__":
  main()
