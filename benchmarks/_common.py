"""Pieces shared by the input-pipeline benchmarks (pipeline_throughput, bbc_pose_pipeline)."""

from __future__ import annotations

import subprocess
import time

import cv2
import numpy as np

from flowpose_jax.data import pipeline

FRAME_HW = (360, 640)  # BBC Pose frame size
TEXTURE_BLUR_PX = 7  # box-blur size that gives the noise some JPEG-realistic structure


def textured_frame(rng: np.random.Generator, hw: tuple[int, int] = FRAME_HW) -> np.ndarray:
  """[H, W, 3] uint8 random texture: blurred noise plus a little raw noise."""
  h, w = hw
  noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
  return cv2.addWeighted(cv2.blur(noise, (TEXTURE_BLUR_PX, TEXTURE_BLUR_PX)), 0.8, noise, 0.2, 0)


def time_iterator(source, config, num_batches: int) -> float:
  """Samples/s of ``pipeline.make_train_iterator`` over ``num_batches`` batches after one warm-up batch."""
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
