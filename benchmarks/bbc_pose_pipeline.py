"""Training input pipeline throughput (samples/s) on BBC-Pose-sized frames (640x360 JPEG).

Sources (``--sources``, any of):
  * ``original``: a fake BBC Pose download (bbcpose.mat as a 1x20 MATLAB struct
    array + 640x360 textured JPEG frames) written into a temporary dir and built
    with the real builder into ``bbc_pose/original``, read through
    ``tfds.data_source``;
  * ``original_crops256``: the same download built into
    ``bbc_pose/original_crops256`` (stored 256x256 person crops);
  * ``memory``: as many records (10 train videos x ``--frames``) of 640x360
    textured frames held in memory as JPEG bytes, decoded on every read as
    ``tfds.data_source`` does: the pipeline without storage reads.
For each input size and worker count, ``pipeline.make_train_iterator`` over
each source (``configs/common.py`` base config, ``input.crop = --crop``);
``--bare`` also times the bare per-example transform (``frames.FrameExamples``:
read + decode + augment + encode) in one thread over every record.

  python benchmarks/bbc_pose_pipeline.py --frames 40 --size 256 --workers 0 2
  python benchmarks/bbc_pose_pipeline.py --sources memory --crop frame --frames 26 --size 256 128 --bare
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

import flowpose_jax.data_builders.bbc_pose as bp  # pylint: disable=wrong-import-position
from _common import (  # pylint: disable=wrong-import-position
    FRAME_HW, commit, textured_frame, time_iterator)
from flowpose_jax.configs.common import base_config  # pylint: disable=wrong-import-position
from flowpose_jax.data import frames as frames_lib  # pylint: disable=wrong-import-position
from flowpose_jax.joints import NUM_JOINTS, joints_box  # pylint: disable=wrong-import-position

FIELDS = ("videoName", "type", "source", "train_frames", "train_joints", "test_frames", "test_joints")
BUILT_SOURCES = ("original", "original_crops256")
SOURCES = BUILT_SOURCES + ("memory",)
TRAIN_VIDEOS = 10  # of the fake download's 20 (10 train / 5 val / 5 test)
JPEG_QUALITY = 90
MEMORY_BOX_MARGIN = 0.15  # the memory records' person box: their joints' box grown by this x its larger side


def write_fake_download(root: str, frames_per_video: int, seed: int = 0) -> None:
  """20 entries (10 train / 5 val / 5 test), ``frames_per_video`` frames each, 1-based joints."""
  rng = np.random.default_rng(seed)
  h, w = FRAME_HW
  struct = np.empty((1, bp.NUM_ORIGINAL), dtype=[(f, object) for f in FIELDS])
  offsets = np.array([[0, -70], [-90, 80], [90, 80], [-75, 35], [75, 35], [-50, -10], [50, -10]], float)
  for i in range(bp.NUM_ORIGINAL):
    typ = "train" if i < TRAIN_VIDEOS else ("val" if i < 15 else "test")
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
                  [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
  scipy.io.savemat(os.path.join(root, "bbcpose.mat"), {"bbcpose": struct})


class JpegSource:
  """Random-access records whose ``image`` is decoded from JPEG bytes held in memory on every read."""

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
    visible = np.ones(NUM_JOINTS, bool)
    return {"image": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "joints": self._joints[i], "visible": visible,
            "box": joints_box(self._joints[i], visible, margin=MEMORY_BOX_MARGIN),
            "video_id": np.int32(0), "frame_index": np.int32(i)}


def time_transform(source, config) -> float:
  """Samples/s of ``frames.FrameExamples`` (read + decode + augment + encode) over every record, one thread."""
  examples = frames_lib.FrameExamples(config, source)
  rng = np.random.default_rng(config.seed)
  t0 = time.perf_counter()
  for i in range(len(source)):
    examples.example(i, rng)
  return len(source) / (time.perf_counter() - t0)


def open_sources(names: list[str], frames_per_video: int, tmp: str) -> dict:
  """{name: random-access train records}; the fake download is written and built only for built sources."""
  sources = {}
  if any(name in BUILT_SOURCES for name in names):
    manual, data_dir = os.path.join(tmp, "manual"), os.path.join(tmp, "tfds")
    write_fake_download(manual, frames_per_video)
    for name in (n for n in names if n in BUILT_SOURCES):
      t0 = time.perf_counter()
      bp.build(name, data_dir, manual)
      n, seconds = bp.NUM_ORIGINAL * frames_per_video, time.perf_counter() - t0
      print(f"built bbc_pose/{name}: {n} frames in {seconds:.1f} s ({n / seconds:.0f} frames/s)")
      sources[name] = tfds.data_source(f"bbc_pose/{name}", split="train", data_dir=data_dir)
  if "memory" in names:
    sources["memory"] = JpegSource(TRAIN_VIDEOS * frames_per_video, seed=0)
  return sources


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sources", nargs="+", choices=SOURCES, default=list(BUILT_SOURCES))
  parser.add_argument("--frames", type=int, default=40, help="frames per fake video (10 train videos)")
  parser.add_argument("--size", type=int, nargs="+", default=[128, 256], help="network input side(s), px")
  parser.add_argument("--crop", default="box", help="input.crop: box (the record's person box) or frame")
  parser.add_argument("--batch_size", type=int, default=16)
  parser.add_argument("--batches", type=int, default=20, help="timed batches per measurement")
  parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
  parser.add_argument("--read_threads", type=int, default=None, help="default: config.input.read_threads")
  parser.add_argument("--bare", action="store_true", help="also time the bare transform in one thread")
  args = parser.parse_args()

  tfds.disable_progress_bar()
  print(f"host {platform.node()} ({os.cpu_count()} CPUs), cv2 {cv2.__version__} threads {cv2.getNumThreads()}, "
        f"commit {commit()}")
  with tempfile.TemporaryDirectory() as tmp:
    sources = open_sources(args.sources, args.frames, tmp)
    for size in args.size:
      config = base_config()
      config.input.crop, config.input.size, config.batch_size = args.crop, size, args.batch_size
      if args.read_threads is not None:
        config.input.read_threads = args.read_threads
      head = f"input {size}x{size}, crop {args.crop}, batch {args.batch_size}"
      if args.bare:
        print(f"{head}, bare FrameExamples, 1 thread: " + ", ".join(
            f"{name} {time_transform(src, config):7.1f}" for name, src in sources.items()) + " samples/s")
      for workers in args.workers:
        config.input.workers = workers
        rates = {name: time_iterator(src, config, args.batches) for name, src in sources.items()}
        print(f"{head}, workers={workers}, read_threads {config.input.read_threads}: " + ", ".join(
            f"{name} {rate:7.1f}" for name, rate in rates.items()) + " samples/s")


if __name__ == "__main__":
  main()
