"""Training-step and inference throughput of a config's model on this machine.

  python benchmarks/train_throughput.py --config configs/demo.py [--steps 10] [--config.model.dtype=bfloat16]

Prints images/s for the jitted train step (data-parallel over all local
devices, random batches, compile excluded) and for the forward pass, with the
device, JAX version and git commit, each with its FLOPs (XLA's cost analysis
of the compiled step / forward) and the fraction of the device's peak
(``_common.device_peak``: a CPU's nominal fp32 FMA peak, an accelerator's
measured big matmul). Data loading is not included (see
benchmarks/bbc_pose_pipeline.py).
"""

import argparse
import sys
import time

import jax  # noqa: E402
import numpy as np  # noqa: E402

from _common import commit, compiled_flops, device_peak, machine_line, random_train_batch  # noqa: E402
from flowpose_jax import configuration, models, parallel, workdir as workdir_lib  # noqa: E402
from flowpose_jax.train import state as state_lib  # noqa: E402
from flowpose_jax.train import step as step_lib  # noqa: E402


def main():
  argv, overrides = configuration.split_args(sys.argv[1:])
  p = argparse.ArgumentParser()
  p.add_argument("--config", default="configs/demo.py")
  p.add_argument("--steps", type=int, default=10)
  args = p.parse_args(argv)
  config = configuration.load_config(args.config, overrides)
  mesh = parallel.make_mesh()
  graphdef, params = workdir_lib.make_model(config)
  tx = state_lib.make_optimizer(config.optimizer, config.num_train_steps)
  state = parallel.replicate(mesh, state_lib.init_state(params, tx))
  fn = step_lib.jit_train_step(mesh, graphdef=graphdef, tx=tx, loss_cfg=config.loss)
  rng = np.random.default_rng(0)
  batch = parallel.to_global_batch(mesh, random_train_batch(config, config.batch_size, rng),
                                   ("image",) + step_lib.TARGET_KEYS)
  t = time.perf_counter()
  step_flops = compiled_flops(fn.lower(state, batch).compile())
  state, m = fn(state, batch)
  jax.block_until_ready(m)
  compile_s = time.perf_counter() - t
  t = time.perf_counter()
  for _ in range(args.steps):
    state, m = fn(state, batch)
  jax.block_until_ready(m)
  train_s = (time.perf_counter() - t) / args.steps

  predict = parallel.make_predict_fn(mesh, models.forward_fn(graphdef), ("image",))
  images = np.asarray(batch["image"])
  predict(state.params, images)
  forward_flops = compiled_flops(jax.jit(models.forward_fn(graphdef)).lower(state.params, images).compile())
  t = time.perf_counter()
  for _ in range(args.steps):
    predict(state.params, images)
  fwd_s = (time.perf_counter() - t) / args.steps

  dtype = "bfloat16" if config.model.dtype == "bfloat16" else "float32"
  peak, how = device_peak(dtype)
  n = sum(x.size for x in jax.tree.leaves(params))
  print(machine_line())
  print(f"jax {jax.__version__}  commit {commit()}  {time.strftime('%Y-%m-%d')}")
  print(f"config: {args.config} {overrides or ''}  params {n / 1e6:.2f} M  input {config.input.size}  "
        f"batch {config.batch_size}  dtype {config.model.dtype}")
  print(f"peak: {peak / 1e9:.0f} GFLOP/s ({how})")
  for name, seconds, flops in (("train step", train_s, step_flops), ("forward", fwd_s, forward_flops)):
    print(f"{name + ':':11s} {seconds * 1e3:.1f} ms = {config.batch_size / seconds:.1f} images/s, "
          f"{flops / config.batch_size / 1e9:.2f} GFLOP/image, {flops / seconds / 1e9:.1f} GFLOP/s = "
          f"{flops / seconds / peak:.1%} of peak" + (f" (compile {compile_s:.1f} s)" if name == "train step" else ""))


if __name__ == "__main__":
  main()
