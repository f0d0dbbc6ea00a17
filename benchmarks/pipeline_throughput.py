"""Training input pipeline throughput (samples/s) on BBC-Pose-sized frames.

Builds ``--num`` in-memory records of 640×360 random-texture frames stored as
JPEG bytes (decoded on every read, as ``tfds.data_source`` does), then times
``pipeline.make_train_iterator`` (augment + encode + batch) with 0 and 2 grain
worker processes, plus the bare transform in one thread.

  python benchmarks/pipeline_throughput.py --num 256 --size 256
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import cv2
import numpy as np

from _common import (  # pylint: disable=wrong-import-position
    FRAME_HW, commit, textured_frame, time_iterator)
from configs.common import base_config  # pylint: disable=wrong-import-position
from flowpose_jax.data import frames  # pylint: disable=wrong-import-position
from flowpose_jax.joints import NUM_JOINTS  # pylint: disable=wrong-import-position

JPEG_QUALITY = 90


class JpegSource:
  """Random-access records whose ``image`` is decoded from JPEG bytes on read."""

  def __init__(self, num: int, seed: int):
    rng = np.random.default_rng(seed)
    h, w = FRAME_HW
    self._jpegs, self._joints = [], []
    for _ in range(num):
      ok, buf = cv2.imencode(".jpg", textured_frame(rng, FRAME_HW), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
      if not ok:
        raise RuntimeError("cv2.imencode failed")
      self._jpegs.append(buf.tobytes())
      self._joints.append(rng.uniform([0.3 * w, 0.2 * h], [0.7 * w, 0.8 * h], (NUM_JOINTS, 2)).astype(np.float32))

  def __len__(self) -> int:
    return len(self._jpegs)

  def __getitem__(self, i: int) -> dict:
    bgr = cv2.imdecode(np.frombuffer(self._jpegs[i], np.uint8), cv2.IMREAD_COLOR)
    return {"image": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "joints": self._joints[i],
            "visible": np.ones(NUM_JOINTS, bool), "video_id": np.int32(0), "frame_index": np.int32(i)}


def time_transform(source, config, num: int) -> float:
  """Samples/s of ``frames.FrameExamples`` (read + decode + augment + encode), one thread."""
  examples = frames.FrameExamples(config, source)
  rng = np.random.default_rng(config.seed)
  t0 = time.perf_counter()
  for i in range(num):
    examples.example(i % len(source), rng)
  return num / (time.perf_counter() - t0)


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--num", type=int, default=256, help="records built in memory (and samples timed)")
  parser.add_argument("--size", type=int, default=256, help="network input side, px (paper: 256)")
  parser.add_argument("--batch_size", type=int, default=16)
  parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
  parser.add_argument("--read_threads", type=int, default=None, help="default: config.input.read_threads")
  args = parser.parse_args()

  config = base_config()
  config.input.size = args.size
  config.batch_size = args.batch_size
  if args.read_threads is not None:
    config.input.read_threads = args.read_threads
  source = JpegSource(args.num, config.seed)
  num_batches = max(1, args.num // args.batch_size)
  print(f"host {platform.node()} ({os.cpu_count()} CPUs), cv2 {cv2.__version__} threads {cv2.getNumThreads()}, "
        f"commit {commit()}")
  print(f"{args.num} records of {FRAME_HW[1]}x{FRAME_HW[0]} JPEG -> {args.size}x{args.size} input, "
        f"batch {args.batch_size}, read_threads {config.input.read_threads}")
  print(f"  bare FrameExamples, 1 thread: {time_transform(source, config, args.num):8.1f} samples/s")
  for workers in args.workers:
    config.input.workers = workers
    rate = time_iterator(source, config, num_batches)
    print(f"  make_train_iterator, workers={workers}: {rate:8.1f} samples/s")


if __name__ == "__main__":
  main()
