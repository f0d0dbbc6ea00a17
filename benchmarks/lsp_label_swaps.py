"""How often LSP-extended's left/right labels look swapped: a torso-geometry test, and what it cannot tell.

  python benchmarks/lsp_label_swaps.py --manual_dir ~/data/lspet
  python benchmarks/lsp_label_swaps.py --manual_dir ~/data/lsp_dataset --config original

Reads ``joints.mat`` as the ``lsp`` builder does (``read_joints`` + ``convert``:
0-based, LSP-extended's unlocated joints missing) and labels nothing.

Method: ``flowpose_jax.data.torso`` (the signed shoulder and hip widths of images
with the four torso joints, the rule training's ``dataset.reversed_torsos`` uses). Printed:
  front: both pairs o > 0 (the majority);
  reversed: both pairs o < 0, reversed relative to the majority: a back view OR all
    four labels swapped (2D joints cannot tell these apart);
  disagree: one pair each way: one pair swapped, or a strong twist.
Also the brief's simple test (upright torsos only, u within 45° of up): the share
with the right shoulder on the image's left, the right hip likewise, and both
reversed; and, when ``--control`` (default: the shared PARSE folder) exists, the
same numbers on PARSE's 100 hand-labelled training images (LSP order, person-centric).
"reversed" is an upper bound on whole-person swaps; data_builders/lsp/README.md has
an eye check of a sample (most of them are back views).
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np
from _common import commit

from flowpose_jax.data.torso import HIPS, MIN_WIDTH, SHOULDERS, torso_orientation
from flowpose_jax.data_builders.lsp import lsp

UPRIGHT_COS = np.cos(np.radians(45.0))  # the simple test: torso axis within 45° of image-up.
SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
CONTROL = SHARED / "realpose_parse" / "annotations.json"


def _percent(mask: np.ndarray) -> float:
  return 100.0 * float(np.mean(mask)) if np.size(mask) else float("nan")


def swap_figures(joints: np.ndarray, present: np.ndarray) -> dict[str, float]:
  """The counts and percentages the docstring describes, for [N, 14, 2] joints and [N, 14] present."""
  o = torso_orientation(joints, present)
  wide = o["usable"] & (np.abs(o["shoulders"]) >= MIN_WIDTH) & (np.abs(o["hips"]) >= MIN_WIDTH)
  sh, hp = o["shoulders"][wide] > 0, o["hips"][wide] > 0
  upright = o["usable"] & (o["up"] >= UPRIGHT_COS)
  r_sho_left = joints[upright, SHOULDERS[0], 0] < joints[upright, SHOULDERS[1], 0]
  r_hip_left = joints[upright, HIPS[0], 0] < joints[upright, HIPS[1], 0]
  return {"images": len(joints), "usable": int(o["usable"].sum()), "wide": int(wide.sum()),
          "front": _percent(sh & hp), "reversed": _percent(~sh & ~hp), "disagree": _percent(sh != hp),
          "upright": int(upright.sum()), "r_sho_left": _percent(r_sho_left), "r_hip_left": _percent(r_hip_left),
          "upright_reversed": _percent(~r_sho_left & ~r_hip_left)}


def report(label: str, f: dict) -> str:
  return (f"{label}: {f['images']} images, {f['usable']} with the 4 torso joints, {f['wide']} wide enough "
          f"(|width| >= {MIN_WIDTH} torso): front {f['front']:.1f} %, reversed (back view or all swapped) "
          f"{f['reversed']:.1f} %, shoulders/hips disagree {f['disagree']:.1f} %\n"
          f"  simple test, {f['upright']} upright torsos: right shoulder on the image's left "
          f"{f['r_sho_left']:.1f} %, "
          f"right hip {f['r_hip_left']:.1f} %, both reversed {f['upright_reversed']:.1f} %")


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--manual_dir", default="~/data/lspet", help="the folder holding joints.mat")
  p.add_argument("--config", default="extended", choices=[c.name for c in lsp.Lsp.BUILDER_CONFIGS])
  p.add_argument("--control", default=str(CONTROL), help="PARSE annotations.json (skipped when absent)")
  args = p.parse_args()
  cfg = next(c for c in lsp.Lsp.BUILDER_CONFIGS if c.name == args.config)
  path = pathlib.Path(args.manual_dir).expanduser() / lsp.JOINTS_FILE
  converted = lsp.convert(*lsp.read_joints(path, cfg), cfg)
  print(f"command: python benchmarks/lsp_label_swaps.py --manual_dir {args.manual_dir} --config {args.config}; "
        f"commit {commit()}")
  figures = swap_figures(converted["joints_full"], converted["visible_full"])
  print(report(f"lsp/{args.config} ({path})", figures))
  control = pathlib.Path(args.control)
  if control.exists():
    points = np.array([e["parse_14_points_1based"] for e in json.loads(control.read_text())], np.float64) - 1
    print(report(f"control: PARSE ({control})", swap_figures(points, np.ones(points.shape[:2], bool))))


if __name__ == "__main__":
  main()
