"""Single-frame frames/s vs batch size: JAX fp32/bf16, onnxruntime and PyTorch on the same weights.

  python benchmarks/export_speed.py [--config demo|paper] [--batches 1,4,16] [--repeats 3]
      [--runtimes jax_fp32,jax_bf16,onnxruntime,torch_fp32,torch_bf16] [--peak_tflops 790]

Builds the HeatmapNet + fusion of configs/demo.py (128 px, width 0.25) or
configs/bbc_pose_spatial.py ("paper": 256 px, width 1.0), random params (speed
does not depend on them), and runs every runtime on the same weights: JAX
jitted (fp32, and bf16 compute with fp32 params), the ONNX export on
onnxruntime, and ``export.torch_net`` rebuilt from the safetensors tensors
(fp32, and bf16 autocast). Per batch size all runtimes are warmed up first,
then timed interleaved (runtime after runtime, ``--repeats`` rounds); the
median is reported. Prints XLA's FLOPs per frame (cost analysis of the fp32
program) and, with ``--peak_tflops``, the fraction of that peak reached.
A runtime whose package is missing is listed as skipped.
"""

import argparse
import statistics
import time

import jax
import numpy as np

from _common import commit, compiled_flops, device_peak, machine_line, version
from flowpose_jax.configs import bbc_pose_spatial, demo
from flowpose_jax import workdir as workdir_lib
from flowpose_jax.export import onnx_format, spec as spec_lib, torch_net, weights
from flowpose_jax.models import forward_fn

CONFIGS = {"demo": demo.get_config, "paper": bbc_pose_spatial.get_config}
RUNTIMES = ("jax_fp32", "jax_bf16", "onnxruntime", "torch_fp32", "torch_bf16")


def jax_runner(config, params, dtype):
  config = config.copy_and_resolve_references()
  config.model.dtype = dtype
  graphdef, _ = workdir_lib.abstract_model(config)
  fn = jax.jit(forward_fn(graphdef))
  return lambda x: fn(params, x).block_until_ready()


def onnx_runner(trained):
  import onnxruntime as ort  # pylint: disable=import-outside-toplevel
  part, = spec_lib.parts(trained)
  options = ort.SessionOptions()
  # onnxruntime's threads spin after a run by default, starving the runtime timed next.
  options.add_session_config_entry("session.intra_op.allow_spinning", "0")
  session = ort.InferenceSession(onnx_format.convert(part).SerializeToString(), options)
  return lambda x: session.run(None, {"image": x})[0]


def torch_runner(trained, bf16: bool):
  import torch  # pylint: disable=import-outside-toplevel
  parts = spec_lib.parts(trained)
  spec = spec_lib.runtime_spec(trained, None, "safetensors", parts, {})
  spec["architecture"] = spec_lib.architecture(trained.config)
  net = torch_net.build(weights.flatten(trained.params), spec)

  def run(x):
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
      return net(torch.from_numpy(x)).float().numpy()

  return run


def make_runners(names, trained):
  runners, skipped = {}, {}
  for name in names:
    try:
      if name.startswith("jax_"):
        runners[name] = jax_runner(trained.config, trained.params, {"jax_fp32": "float32",
                                                                     "jax_bf16": "bfloat16"}[name])
      elif name == "onnxruntime":
        runners[name] = onnx_runner(trained)
      elif name.startswith("torch_"):
        runners[name] = torch_runner(trained, name == "torch_bf16")
      else:
        raise SystemExit(f"--runtimes: unknown {name!r}; choose from {', '.join(RUNTIMES)}")
    except ImportError as e:
      skipped[name] = str(e)
    except Exception as e:  # a runtime's own error (e.g. jax2onnx missing) is reported, not fatal
      skipped[name] = f"{type(e).__name__}: {e}"
  return runners, skipped


def flops_per_frame(config, params) -> float:
  graphdef, _ = workdir_lib.abstract_model(config)
  s = int(config.input.size)
  return compiled_flops(
      jax.jit(forward_fn(graphdef)).lower(params, jax.ShapeDtypeStruct((1, s, s, 3), np.uint8)).compile())


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--config", default="demo", choices=sorted(CONFIGS))
  p.add_argument("--batches", default="1,4,16")
  p.add_argument("--repeats", type=int, default=3)
  p.add_argument("--runtimes", default=",".join(RUNTIMES))
  p.add_argument("--peak_tflops", type=float, default=None,
                 help="device peak for the fraction reached (default: _common.device_peak)")
  args = p.parse_args()
  config = CONFIGS[args.config]()
  config.model.dtype = "float32"
  graphdef, params = workdir_lib.make_model(config)
  trained = workdir_lib.Trained(config, graphdef, params, step=0)
  runners, skipped = make_runners(args.runtimes.split(","), trained)
  flops = flops_per_frame(config, params)
  s = int(config.input.size)
  versions = ", ".join(f"{pkg} {version(pkg)}" for pkg in ("jax", "jaxlib", "onnxruntime", "jax2onnx", "torch"))
  print(machine_line())
  print(f"{versions}; commit {commit()}; {time.strftime('%Y-%m-%d')}")
  print(f"model: configs/{'demo' if args.config == 'demo' else 'bbc_pose_spatial'}.py HeatmapNet + fusion, "
        f"{s}x{s} input, width {config.model.width}, "
        f"{sum(x.size for x in jax.tree.leaves(params)):,} params; XLA cost analysis: "
        f"{flops / 1e9:.2f} GFLOP/frame")
  for name, why in skipped.items():
    print(f"skipped {name}: {why}")
  names = list(runners)
  print("\n| batch | " + " | ".join(f"{n} frames/s" for n in names) + " |")
  print("|---|" + "---|" * len(names))
  rng = np.random.default_rng(0)
  best = {}
  for b in (int(v) for v in args.batches.split(",")):
    x = rng.integers(0, 256, (b, s, s, 3), dtype=np.uint8)
    for name in names:  # warm-up: compile / allocate at this exact shape
      runners[name](x)
      runners[name](x)
    times = {name: [] for name in names}
    for _ in range(args.repeats):
      for name in names:
        t = time.perf_counter()
        runners[name](x)
        times[name].append(time.perf_counter() - t)
    rates = {name: b / statistics.median(v) for name, v in times.items()}
    for name, r in rates.items():
      best[name] = max(best.get(name, 0.0), r)
    print(f"| {b} | " + " | ".join(f"{rates[n]:.3g}" for n in names) + " |")
  print()
  if args.peak_tflops:
    peak, what = args.peak_tflops * 1e12, f"{args.peak_tflops:g} TFLOP/s (given)"
  else:
    peak, how = device_peak("float32")
    what = f"{peak / 1e9:.0f} GFLOP/s ({how})"
  for name, r in best.items():
    print(f"best {name}: {r:.1f} frames/s = {r * flops / 1e9:.1f} GFLOP/s, {r * flops / peak:.1%} of {what}")


if __name__ == "__main__":
  main()
