"""Pieces shared by the benchmarks: synthetic frames and batches, iterator timing, the machine, FLOPs and the peak."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import time

import cv2
import numpy as np

from flowpose_jax import heatmaps
from flowpose_jax.data import pipeline
from flowpose_jax.joints import NUM_JOINTS

FRAME_HW = (360, 640)  # BBC Pose frame size
TEXTURE_BLUR_PX = 7  # box-blur size that gives the noise some JPEG-realistic structure


def textured_frame(rng: np.random.Generator, hw: tuple[int, int] = FRAME_HW) -> np.ndarray:
  """[H, W, 3] uint8 random texture: blurred noise plus a little raw noise."""
  h, w = hw
  noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
  return cv2.addWeighted(cv2.blur(noise, (TEXTURE_BLUR_PX, TEXTURE_BLUR_PX)), 0.8, noise, 0.2, 0)


def random_train_batch(config, n: int, rng: np.random.Generator) -> dict:
  """A random training batch of ``n`` for a single-frame config: "image" [n, S, S, 3] uint8 and the
  targets of ``step.TARGET_KEYS`` for joints drawn inside the heatmap grid (all visible)."""
  s, h = config.input.size, config.input.size // config.input.stride
  joints = rng.uniform(2, h - 3, (n, NUM_JOINTS, 2)).astype(np.float32)
  return {"image": rng.integers(0, 256, (n, s, s, 3), dtype=np.uint8),
          "targets": heatmaps.encode(joints, np.ones((n, NUM_JOINTS), bool), h, config.input.sigma),
          "weights": np.ones((n, NUM_JOINTS), np.float32), "joints": joints}


def time_iterator(source, config, num_batches: int) -> float:
  """Samples/s of ``pipeline.make_train_iterator`` over ``num_batches`` batches after one warm-up batch."""
  if config.input.workers > 0:
    from absl import flags  # pylint: disable=import-outside-toplevel
    if not flags.FLAGS.is_parsed():
      flags.FLAGS(sys.argv[:1])  # grain's worker processes read absl flags (as under `flowpose train`)
  it = pipeline.make_train_iterator(source, config, shard_index=0, shard_count=1)
  next(it)
  t0 = time.perf_counter()
  for _ in range(num_batches):
    next(it)
  rate = num_batches * config.batch_size / (time.perf_counter() - t0)
  if hasattr(it, "close"):
    it.close()
  return rate


def commit() -> str:
  """The short git commit of the working tree, or 'unknown'."""
  try:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return "unknown"


def cpu_name() -> str:
  """The CPU's model name (/proc/cpuinfo), or what ``platform`` knows."""
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    return platform.processor() or "unknown"


def version(package: str) -> str:
  """An installed package's version, or 'absent'."""
  try:
    return importlib.metadata.version(package)
  except importlib.metadata.PackageNotFoundError:
    return "absent"


def machine_line() -> str:
  """One line naming the machine, its load and the JAX device."""
  import jax  # pylint: disable=import-outside-toplevel
  return (f"machine: {cpu_name()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"device {jax.devices()[0].device_kind} x{jax.device_count()}")


def compiled_flops(compiled) -> float:
  """FLOPs of one call of a compiled XLA executable (its own cost analysis)."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost["flops"])


MATMUL_SIZE = {"cpu": 2048, "gpu": 8192, "tpu": 8192}


def matmul_peak(dtype: str = "float32", repeats: int = 5) -> float:
  """FLOP/s of a big jitted square matmul on the default device: the practical roofline.

  The best of ``repeats`` timed calls after a warm-up, N = ``MATMUL_SIZE``
  (2048 on a CPU, 8192 on an accelerator: where a GPU's bf16 matmul reaches
  its ~790 TFLOP/s). Fractions of it say how close a model gets to what this
  device does at its best, not to a datasheet figure.
  """
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  n = MATMUL_SIZE.get(jax.default_backend(), 2048)
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32).astype(dtype)
  f = jax.jit(lambda x: x @ x)
  f(a).block_until_ready()
  best = float("inf")
  for _ in range(repeats):
    t = time.perf_counter()
    f(a).block_until_ready()
    best = min(best, time.perf_counter() - t)
  return 2 * n ** 3 / best


def cpu_nominal_peak() -> tuple[float, str]:
  """fp32 FLOP/s this CPU can issue at its reported clock: cores x MHz x FLOP/cycle, and how it was counted.

  FLOP/cycle per core from the ISA flags: two FMA pipes of 512 bits (avx512f:
  64) or 256 bits (fma + avx2: 32), else 16. It is a nominal ceiling (the
  clock in /proc/cpuinfo, no turbo, no AVX-512 down-clocking, and CPUs whose
  AVX-512 is double-pumped counted at 64): a program above it ran at a
  higher clock.
  """
  mhz, flags = 0.0, set()
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() == "cpu MHz" and not mhz:
          mhz = float(value)
        elif key.strip() == "flags" and not flags:
          flags = set(value.split())
  except OSError:
    pass
  per_cycle, isa = (64, "AVX-512 FMA") if "avx512f" in flags else (32, "AVX2 FMA") if "fma" in flags else (16, "SSE")
  cores = os.cpu_count() or 1
  return cores * mhz * 1e6 * per_cycle, f"{cores} cores x {mhz:.0f} MHz x {per_cycle} FLOP/cycle ({isa}, 2 pipes)"


def device_peak(dtype: str = "float32") -> tuple[float, str]:
  """The roofline for "fraction of peak": a CPU's nominal fp32 peak, an accelerator's measured matmul.

  On a CPU without bf16 units XLA computes bf16 convolutions in fp32, so the
  fp32 peak is the ceiling for both dtypes. Returns (FLOP/s, how it was found).
  """
  import jax  # pylint: disable=import-outside-toplevel
  if jax.default_backend() == "cpu":
    peak, how = cpu_nominal_peak()
    if peak > 0:
      return peak, f"nominal {how}"
  n = MATMUL_SIZE.get(jax.default_backend(), 2048)
  return matmul_peak(dtype), f"{dtype} {n}x{n} matmul measured here"


# Dense (no sparsity) datasheet peaks per chip, FLOP/s: (lower-case substring of ``device_kind``, name,
# bf16, fp32 at XLA's default precision: TF32 tensor cores on NVIDIA A100/H100/H200, one bf16 pass on
# a TPU). The first match wins, so the specific names come first.
DATASHEET_PEAKS = (
    ("h100 pcie", "H100 PCIe", 756e12, 378e12),
    ("h100 nvl", "H100 NVL", 835e12, 418e12),
    ("h100", "H100 SXM", 989e12, 495e12),
    ("h200 nvl", "H200 NVL", 835e12, 418e12),
    ("h200", "H200 SXM", 989e12, 495e12),
    ("a100", "A100", 312e12, 156e12),
    ("tpu v4", "TPU v4", 275e12, 275e12),
    ("tpu v5 lite", "TPU v5e", 197e12, 197e12),
    ("tpu v5e", "TPU v5e", 197e12, 197e12),
    ("tpu v5", "TPU v5p", 459e12, 459e12),  # v5p reports "TPU v5"
    ("tpu v6", "TPU v6e", 918e12, 918e12),  # "TPU v6 lite"
)


def datasheet_peak(device_kind: str) -> tuple[str, dict[str, float]] | None:
  """(chip name, {"bfloat16": FLOP/s, "float32": FLOP/s}) of a known ``device_kind``, else None."""
  kind = device_kind.lower()
  for key, name, bf16, fp32 in DATASHEET_PEAKS:
    if key in kind:
      return name, {"bfloat16": bf16, "float32": fp32}
  return None
