"""bbc_pose training pipeline throughput: full 640x360 JPEG frames vs stored 256x256 crops.

Writes a fake BBC Pose download (bbcpose.mat as a 1x20 MATLAB struct array +
640x360 textured JPEG frames) into a temporary dir, builds ``bbc_pose/original``
and ``bbc_pose/original_crops256`` from it with the real builder, and times
``pipeline.make_train_iterator`` over each (``configs/common.py`` base config,
``input.crop = "box"``) through ``tfds.data_source``.

  python benchmarks/bbc_pose_pipeline.py --frames 40 --size 256 --workers 0 2
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import cv2
import numpy as np
import scipy.io

import tensorflow_datasets as tfds  # pylint: disable=wrong-import-position

import data_builders.bbc_pose as bp  # pylint: disable=wrong-import-position
from _common import (  # pylint: disable=wrong-import-position
    FRAME_HW, commit, textured_frame, time_iterator)
from configs.common import base_config  # pylint: disable=wrong-import-position

FIELDS = ("videoName", "type", "source", "train_frames", "train_joints", "test_frames", "test_joints")


def write_fake_download(root: str, frames_per_video: int, seed: int = 0) -> None:
  """20 entries (10 train / 5 val / 5 test), ``frames_per_video`` frames each, 1-based joints."""
  rng = np.random.default_rng(seed)
  h, w = FRAME_HW
  struct = np.empty((1, bp.NUM_ORIGINAL), dtype=[(f, object) for f in FIELDS])
  offsets = np.array([[0, -70], [-90, 80], [90, 80], [-75, 35], [75, 35], [-50, -10], [50, -10]], float)
  for i in range(bp.NUM_ORIGINAL):
    typ = "train" if i < 10 else ("val" if i < 15 else "test")
    frames = 1 + np.arange(frames_per_video, dtype=float)
    centre = rng.uniform([0.6 * w, 0.45 * h], [0.7 * w, 0.55 * h])
    poses = np.stack([offsets + centre + rng.normal(0, 6, (7, 2)) for _ in frames], -1)  # [7, 2, N]
    joints = poses.transpose(1, 0, 2)  # [2, 7, N]
    empty = np.zeros((0, 0))
    if typ == "train":
      struct[0, i] = (f"v{i + 1}", typ, "buehler11", frames[None], joints, empty, empty)
    else:
      struct[0, i] = (f"v{i + 1}", typ, "buehler11", empty, empty, frames[None], joints)
    folder = os.path.join(root, str(i + 1))
    os.makedirs(folder, exist_ok=True)
    for f in frames:
      cv2.imwrite(os.path.join(folder, f"{int(f)}.jpg"), textured_frame(rng, FRAME_HW),
                  [cv2.IMWRITE_JPEG_QUALITY, 90])
  scipy.io.savemat(os.path.join(root, "bbcpose.mat"), {"bbcpose": struct})


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--frames", type=int, default=40, help="frames per fake video (10 train videos)")
  parser.add_argument("--size", type=int, nargs="+", default=[128, 256], help="network input side(s), px")
  parser.add_argument("--batch_size", type=int, default=16)
  parser.add_argument("--batches", type=int, default=20, help="timed batches per measurement")
  parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
  args = parser.parse_args()

  tfds.disable_progress_bar()
  print(f"host {platform.node()} ({os.cpu_count()} CPUs), cv2 {cv2.__version__}, commit {commit()}")
  with tempfile.TemporaryDirectory() as tmp:
    manual, data_dir = os.path.join(tmp, "manual"), os.path.join(tmp, "tfds")
    write_fake_download(manual, args.frames)
    sources = {}
    for name in ("original", "original_crops256"):
      t0 = time.perf_counter()
      bp.build(name, data_dir, manual)
      n = 20 * args.frames
      print(f"built bbc_pose/{name}: {n} frames in {time.perf_counter() - t0:.1f} s "
            f"({n / (time.perf_counter() - t0):.0f} frames/s)")
      sources[name] = tfds.data_source(f"bbc_pose/{name}", split="train", data_dir=data_dir)
    for size in args.size:
      config = base_config()
      config.input.crop = "box"
      config.input.size = size
      config.batch_size = args.batch_size
      for workers in args.workers:
        config.input.workers = workers
        rates = {name: time_iterator(src, config, args.batches) for name, src in sources.items()}
        print(f"input {size}x{size}, batch {args.batch_size}, workers={workers}, read_threads "
              f"{config.input.read_threads}: full frames {rates['original']:7.1f} samples/s, "
              f"stored crops {rates['original_crops256']:7.1f} samples/s")


if __name__ == "__main__":
  main()
