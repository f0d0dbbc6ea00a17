"""Where a real-footage model's misses come from: per-joint error bands and offsets.

  python benchmarks/realpose_errors.py --workdir workdirs/realpose_ft9000 --split validation --flip_test
  python benchmarks/realpose_errors.py --workdir workdirs/realpose_ft9000 --split train --flip_test

On ``realpose/buffy`` (``validation`` = episode 4, ``train`` = episodes 2 + 3),
whole frames scored as `flowpose evaluate --crop frame` scores them
(``realpose_table.evaluate_view``: ``jobs.evaluate_workdir``, the run's default
passes unless ``--passes``, no box); each visible joint's error in frame px is
put in a band: within 20 px, 20-40 px (near miss: localisation), over 40 px
(gross: the wrong place). Also printed: the share of misses that the other
side's prediction would have hit (a left/right swap), the median error, and
the median signed offset (x, y) of the predictions within 40 px (a systematic
shift: label convention or scale). Comparing ``train`` with ``validation``
separates overfitting from a shift between episodes.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
from realpose_table import DATASET, evaluate_view

from flowpose_jax.data.sources import id_records, load_source
from flowpose_jax.joints import FLIP_INDEX, JOINT_NAMES, mask_missing

HIT_PX, NEAR_PX = 20.0, 40.0


def error_bands(pred: np.ndarray, truth: np.ndarray, visible: np.ndarray) -> list[dict]:
  """pred, truth [N, J, 2] frame px; visible [N, J] bool -> one dict per joint (percentages, px)."""
  err = np.linalg.norm(pred - truth, axis=-1)
  swapped = np.linalg.norm(pred[:, list(FLIP_INDEX)] - truth, axis=-1)
  rows = []
  for j, name in enumerate(JOINT_NAMES):
    v = visible[:, j]
    e, s = err[v, j], swapped[v, j]
    near = e <= NEAR_PX
    offset = np.median((pred - truth)[v, j][near], 0) if near.any() else np.full(2, np.nan)
    rows.append({"joint": name, "count": int(v.sum()), "hit": 100 * np.mean(e <= HIT_PX),
                 "near": 100 * np.mean((e > HIT_PX) & near), "gross": 100 * np.mean(~near),
                 "swap": 100 * np.mean((e > HIT_PX) & (s <= HIT_PX)), "median": float(np.median(e)),
                 "offset": offset})
  return rows


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--workdir", required=True)
  p.add_argument("--split", default="validation", help="validation (episode 4) or train (episodes 2 + 3)")
  p.add_argument("--data_dir", default="")
  p.add_argument("--passes", type=int, default=None, help="default: the run's (Predictor.default_passes)")
  p.add_argument("--flip_test", action="store_true")
  args = p.parse_args()
  with tempfile.TemporaryDirectory() as tmp:
    result = evaluate_view(args.workdir, tmp, label=args.workdir, data_dir=args.data_dir, split=args.split,
                           flip_test=args.flip_test, crop="frame", passes=args.passes)
  records = list(id_records(load_source(DATASET, args.split, args.data_dir), ("joints", "visible")))
  truth, visible = mask_missing(np.stack([np.asarray(r["joints"], np.float32) for r in records]),
                                np.stack([np.asarray(r["visible"], bool) for r in records]))
  pred = np.asarray(result["predictions"])
  passes = args.passes if args.passes is not None else "the run's default"
  print(f"{args.workdir} on {DATASET} {args.split} ({len(records)} frames), whole frame, "
        f"passes: {passes}{', flip test' if args.flip_test else ''}\n")
  print(f"| joint | n | <= {HIT_PX:g} px % | {HIT_PX:g}-{NEAR_PX:g} px % | > {NEAR_PX:g} px % | "
        f"misses an L/R swap would hit % | median error px | median offset (x, y) px within {NEAR_PX:g} |")
  print("|---|---|---|---|---|---|---|---|")
  for r in error_bands(pred, truth, visible):
    print(f"| {r['joint']} | {r['count']} | {r['hit']:.1f} | {r['near']:.1f} | {r['gross']:.1f} | "
          f"{r['swap']:.1f} | {r['median']:.1f} | ({r['offset'][0]:+.1f}, {r['offset'][1]:+.1f}) |")


if __name__ == "__main__":
  main()
