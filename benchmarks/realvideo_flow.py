"""Single-frame vs flowing accuracy on the annotated real clip (../shared/data/realvideo).

  python benchmarks/realvideo_flow.py --workdir workdirs/flow_parametric [--box] [--flow_causal]

20 consecutive JHMDB frames (320x240) with coarse puppet-fit labels, so the
distances are d = 10 and 20 px. ``--box``: the person box from the labels
(their extent grown by 40 % of its larger side, ``joints.joints_box``) is given
to the model, as in the paper's protocols; otherwise the model finds the person
in the whole frame (``Predictor.joints``: its default passes, ``--passes``).
The flowing pass uses the flow the model was trained with (``inference.flow_choice``:
dis_medium for a model trained on exact flow); ``--flow_source``/``--flow_mode`` change it.
"""

import argparse
import json
import os

import numpy as np  # noqa: E402

import flowpose_jax  # noqa: E402
from flowpose_jax import media  # noqa: E402
from flowpose_jax.joints import joints_box  # noqa: E402
from flowpose_jax.evaluate import pck  # noqa: E402

CLIP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                    "realvideo", "jhmdb_goalkeeper_a")
DISTANCES = (10.0, 20.0)
BOX_MARGIN = 0.4


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--workdir", required=True, help="a flowing-model workdir (configs/flow.py)")
  p.add_argument("--clip", default=CLIP)
  p.add_argument("--box", action="store_true")
  p.add_argument("--flow_causal", action="store_true", help="flowing: only past frames")
  p.add_argument("--flow_source", default=None, help="OpenCV flow method (default: as trained)")
  p.add_argument("--flow_mode", default=None, help="direct or composed (default: as trained)")
  p.add_argument("--passes", type=int, default=None, help="whole frame: 1, 2 or 3 (default: the model's)")
  args = p.parse_args()
  with open(os.path.join(args.clip, "annotations.json")) as f:
    ann = json.load(f)
  frames = np.stack([media.read_image(os.path.join(args.clip, fr["image"])) for fr in ann["frames"]])
  gt = np.array([fr["joints"] for fr in ann["frames"]], np.float32)
  boxes = None
  if args.box:
    boxes = np.stack([joints_box(g, margin=BOX_MARGIN) for g in gt])
  model = flowpose_jax.load(args.workdir)
  visible = np.ones(gt.shape[:2], bool)
  flowing = {"flow": True, "causal": args.flow_causal, "source": args.flow_source, "mode": args.flow_mode}
  for name, kwargs in (("single-frame", {}), ("flowing", flowing)):
    joints, _ = model.joints(frames, boxes, passes=args.passes, **kwargs)
    acc = pck.PCKAccumulator(np.array(DISTANCES))
    acc.update(joints, gt, visible)
    res = acc.result()
    print(f"{name:<13}" + "  ".join(f"all joints @ {d:g} px: {100 * a:5.1f} %  wrists: {100 * w:5.1f} %"
                                    for d, a, w in zip(DISTANCES, res["average"], res["per_type"]["wrists"])))
  view = "box given" if args.box else f"whole frame, {args.passes or model.default_passes} pass(es)"
  print(f"({len(frames)} frames of {os.path.basename(args.clip)}, {view})")


if __name__ == "__main__":
  main()
