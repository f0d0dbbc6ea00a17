"""Compiled memory and step time of the train step per batch size: fp32 vs bf16, with and without remat.

  python benchmarks/train_memory.py --config configs/bbc_pose_spatial.py --batches 1,2 [--time]

For each (dtype, remat, batch) the jitted train step is lowered and compiled
for one device and XLA's ``memory_analysis()`` gives the bytes it needs
(arguments, outputs, temporaries); ``--time`` also runs it (after a warm-up
with the same shapes) and prints seconds per step. Prints device, commit and
XLA's FLOPs per step (``cost_analysis``).
"""

import argparse
import itertools
import sys
import time

import jax
import numpy as np

from _common import commit, random_train_batch
from flowpose_jax import configuration, parallel, workdir as workdir_lib
from flowpose_jax.train import state as state_lib
from flowpose_jax.train import step as step_lib

GIB = 2.0 ** 30


def measure(config, batch_size: int, do_time: bool) -> dict:
  mesh = parallel.make_mesh(jax.devices()[:1])
  graphdef, params = workdir_lib.make_model(config)
  tx = state_lib.make_optimizer(config.optimizer, config.num_train_steps)
  state = parallel.replicate(mesh, state_lib.init_state(params, tx))
  fn = step_lib.jit_train_step(mesh, graphdef=graphdef, tx=tx, loss_cfg=config.loss, donate=False)
  batch = parallel.to_global_batch(mesh, random_train_batch(config, batch_size, np.random.default_rng(0)),
                                   ("image",) + step_lib.TARGET_KEYS)
  t0 = time.perf_counter()
  compiled = fn.lower(state, batch).compile()
  out = {"compile_s": time.perf_counter() - t0}
  mem = compiled.memory_analysis()
  out["temp_gib"] = mem.temp_size_in_bytes / GIB
  out["args_gib"] = mem.argument_size_in_bytes / GIB
  out["total_gib"] = (mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes
                      - mem.alias_size_in_bytes) / GIB
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  out["gflop"] = float(cost.get("flops", float("nan"))) / 1e9
  if do_time:
    jax.block_until_ready(compiled(state, batch))  # warm-up, same shapes
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(state, batch))
    out["step_s"] = time.perf_counter() - t0
  return out


def main():
  argv, overrides = configuration.split_args(sys.argv[1:])
  p = argparse.ArgumentParser()
  p.add_argument("--config", default="configs/bbc_pose_spatial.py")
  p.add_argument("--batches", default="1,2,4")
  p.add_argument("--dtypes", default="float32,bfloat16")
  p.add_argument("--time", action="store_true", help="also run each step once after a warm-up")
  args = p.parse_args(argv)
  base = configuration.load_config(args.config, overrides)
  print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), commit {commit()}, "
        f"config {args.config}, input {base.input.size}, width {base.model.width}")
  print("| dtype | remat | batch | temp GiB | total GiB | GFLOP/step | compile s | step s |")
  print("|---|---|---|---|---|---|---|---|")
  for dtype, remat, b in itertools.product(args.dtypes.split(","), (False, True),
                                           (int(x) for x in args.batches.split(","))):
    config = configuration.apply_overrides(base, [f"--config.model.dtype={dtype}",
                                                  f"--config.model.remat={str(remat).lower()}"])
    m = measure(config, b, args.time)
    step = f"{m['step_s']:.2f}" if "step_s" in m else "-"
    print(f"| {dtype} | {remat} | {b} | {m['temp_gib']:.2f} | {m['total_gib']:.2f} | {m['gflop']:.0f} | "
          f"{m['compile_s']:.1f} | {step} |", flush=True)


if __name__ == "__main__":
  main()
