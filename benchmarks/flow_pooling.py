"""Single-frame vs flowing heatmaps with each temporal pooling, on one test split.

  python benchmarks/flow_pooling.py --stage1 workdirs/demo --out workdirs/pooling [--steps 200] [--n 3]

Trains ``configs/flow.py:<pooling>`` on top of the single-frame run in
``--stage1`` (frozen HeatmapNet) for each pooling, evaluates every model on
the test split of the stage-1 dataset, and writes one table
(``pooling_test.md``), one accuracy-vs-distance plot (``pooling_test.png``)
and the learned parametric weights per joint (``pooling_weights.png``).
"""

import argparse
import os
import sys

from configs import flow as flow_config  # noqa: E402
from flowpose_jax import configuration, jobs, workdir as workdir_lib  # noqa: E402
from flowpose_jax.evaluate import plots  # noqa: E402
from flowpose_jax.inference import load  # noqa: E402
from flowpose_jax.models import POOLING  # noqa: E402


def main():
  argv, overrides = configuration.split_args(sys.argv[1:])
  p = argparse.ArgumentParser()
  p.add_argument("--stage1", required=True, help="single-frame training workdir")
  p.add_argument("--out", required=True)
  p.add_argument("--steps", type=int, default=200)
  p.add_argument("--n", type=int, default=3)
  p.add_argument("--poolings", default=",".join(POOLING))
  p.add_argument("--split", default="test")
  args = p.parse_args(argv)
  stage1 = workdir_lib.load_config(args.stage1)
  results = {}
  res, _ = jobs.evaluate_workdir(args.stage1, split=args.split, out_dir=os.path.join(args.out, "conv8"),
                                 output="heatmap")
  results["single-frame (conv8)"] = res
  res, _ = jobs.evaluate_workdir(args.stage1, split=args.split, out_dir=os.path.join(args.out, "single_frame"))
  results["single-frame +fusion"] = res
  for pooling in args.poolings.split(","):
    c = flow_config.get_config(pooling)
    c.flow.n = args.n
    for section in ("dataset", "input"):
      c[section] = stage1[section]
    for key in ("width", "fusion", "final_relu"):
      c.model[key] = stage1.model[key]
    c.init_from = os.path.abspath(args.stage1)
    c.num_train_steps = args.steps
    c.eval_every = 0
    c = configuration.apply_overrides(c, overrides)
    workdir = os.path.join(args.out, pooling)
    jobs.train(c, workdir)
    res, _ = jobs.evaluate_workdir(workdir, split=args.split)
    results[f"flow n={args.n}, {pooling}"] = res
    if pooling == "parametric":
      plots.plot_pooling_weights(load(workdir).params["pool"]["kernel"],
                                 os.path.join(args.out, "pooling_weights.png"),
                                 title=f"parametric pooling weights (n={args.n}, {args.steps} steps)")
  d = float(stage1.eval.threshold)
  table = plots.format_table(results, d)
  plots.plot_accuracy_curves(results, os.path.join(args.out, f"pooling_{args.split}.png"), threshold=d,
                             title=f"{stage1.dataset.name} {args.split}: single-frame vs flowing")
  with open(os.path.join(args.out, f"pooling_{args.split}.md"), "w") as f:
    f.write(table + "\n")
  print(table)


if __name__ == "__main__":
  main()
