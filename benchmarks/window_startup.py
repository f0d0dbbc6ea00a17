"""Start-up time of the window (flowing-model) input pipeline on a 10,000-record TFDS set.

Two figures per code tree, each in a fresh process: the id scan alone (reading
``video_id``, ``frame_index``, ``annotated`` of every record to find the
windows) and factory -> first batch (``make_train_iterator`` on a
``configs/flow.py`` config, first ``next``). The set is built once under
``--data_dir`` by a purpose-made builder with synthetic_signers' features:
256x256 JPEG frames (quality 90, blurred-noise texture so decoding costs what a
real frame does), zlib float16 piecewise-affine flow (~90 KB per record, as
synthetic_signers at this size), 100 videos x 100 frames.

  python benchmarks/window_startup.py --data_dir /tmp/startup_tfds \\
      --before /tmp/wt_before --rounds 3

``--before`` names a checkout of an older commit (``git worktree add
/tmp/wt_before f101144``); its code runs interleaved with this tree's, round by
round, on the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "window_startup_frames"
# TFDS's writer spills a split over 1 GB to disk through TensorFlow, so the
# 10k records are two splits, read back as one.
SPLITS = ("part0", "part1")
SPLIT = "+".join(SPLITS)
VIDEOS, FRAMES, SIDE = 100, 100, 256
JPEG_QUALITY = 90  # as synthetic_signers


def build(data_dir: str) -> None:
  """Writes ``window_startup_frames`` (splits SPLITS, VIDEOS x FRAMES records in all) unless present."""
  sys.path.insert(0, ROOT)
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  from etils import epath  # pylint: disable=import-outside-toplevel
  from benchmarks._common import textured_frame  # pylint: disable=import-outside-toplevel

  class WindowStartupFrames(tfds.core.GeneratorBasedBuilder):
    """VIDEOS x FRAMES frames in (video, frame) order, synthetic_signers' features."""
    VERSION = tfds.core.Version("1.0.0")

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
      return epath.Path(__file__)

    def _info(self):
      return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
          "image": tfds.features.Image(shape=(SIDE, SIDE, 3), encoding_format="jpeg"),
          "joints": tfds.features.Tensor(shape=(7, 2), dtype=np.float32),
          "joints_true": tfds.features.Tensor(shape=(7, 2), dtype=np.float32),
          "visible": tfds.features.Tensor(shape=(7,), dtype=np.bool_),
          "box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
          "flow": tfds.features.Tensor(shape=(SIDE, SIDE, 2), dtype=np.float16,
                                       encoding=tfds.features.Encoding.ZLIB),
          "video_id": tfds.features.Tensor(shape=(), dtype=np.int32),
          "frame_index": tfds.features.Tensor(shape=(), dtype=np.int32),
      }), disable_shuffling=True)

    def _split_generators(self, dl_manager):
      del dl_manager
      per_split = VIDEOS // len(SPLITS)
      return {s: self._generate_examples(range(k * per_split, (k + 1) * per_split))
              for k, s in enumerate(SPLITS)}

    def _generate_examples(self, videos):
      rng = np.random.default_rng(videos[0])
      person = np.zeros((SIDE, SIDE), np.float32)
      cv2.ellipse(person, (SIDE // 2, SIDE), (SIDE // 3, 3 * SIDE // 4), 0, 0, 360, 1.0, -1)
      ys, xs = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
      for v in videos:
        for t in range(FRAMES):
          # One affine motion (px, px per px) on the person, zero on the background.
          a = rng.normal(0, 1, (2, 3)).astype(np.float32) * np.float32([2.0, 0.01, 0.01])
          flow = (a[:, 0] + a[:, 1] * xs[..., None] + a[:, 2] * ys[..., None]) * person[..., None]
          joints = rng.uniform(0.3 * SIDE, 0.7 * SIDE, (7, 2)).astype(np.float32)
          ok, jpeg = cv2.imencode(".jpg", textured_frame(rng, (SIDE, SIDE)),
                                  [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
          assert ok
          yield v * FRAMES + t, {
              "image": jpeg.tobytes(), "joints": joints, "joints_true": joints,
              "visible": np.ones(7, bool), "box": np.array([60, 60, 200, 255], np.float32),
              "flow": flow.astype(np.float16), "video_id": np.int32(v), "frame_index": np.int32(t)}

  builder = WindowStartupFrames(data_dir=data_dir)
  if not builder.is_prepared():
    builder.download_and_prepare(file_format="array_record")


# Runs in a fresh process with the code tree under test first on sys.path.
_CHILD = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    from flowpose_jax.data import windows
    import benchmarks.window_startup as bench
    out = bench.measure(sys.argv[2], windows)
    print("RESULT " + json.dumps(out))
""")


def measure(data_dir: str, windows) -> dict:
  """Seconds of the id scan and of factory -> first batch, in this process's code tree."""
  import time  # pylint: disable=import-outside-toplevel
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  from flowpose_jax.configs import flow as flow_config  # pylint: disable=import-outside-toplevel
  from flowpose_jax.data import pipeline  # pylint: disable=import-outside-toplevel
  source = tfds.data_source(NAME, split=SPLIT, data_dir=data_dir, download=False)
  config = flow_config.get_config()
  config.input.size = SIDE
  config.batch_size = 8
  config.flow.n = 2
  if hasattr(windows, "make_window_train_iterator") and hasattr(windows, "_scan"):  # f101144
    scan, factory = windows._scan, windows.make_window_train_iterator  # pylint: disable=protected-access
  else:
    scan, factory = windows.read_ids, pipeline.make_train_iterator
  t0 = time.perf_counter()
  scan(source)
  t1 = time.perf_counter()
  it = factory(source, config, shard_index=0, shard_count=1)
  next(it)
  t2 = time.perf_counter()
  return {"scan_s": t1 - t0, "first_batch_s": t2 - t1}


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--data_dir", required=True, help="where the 10k-record set is (or is built)")
  parser.add_argument("--before", default="", help="checkout of an older commit to compare with")
  parser.add_argument("--rounds", type=int, default=3)
  args = parser.parse_args()
  build(args.data_dir)
  trees = {"this tree": ROOT, **({"before": os.path.abspath(args.before)} if args.before else {})}
  results = {name: [] for name in trees}
  for _ in range(args.rounds):
    for name, tree in trees.items():
      env = dict(os.environ, PYTHONPATH=os.pathsep.join([tree, ROOT]), JAX_PLATFORMS="cpu")
      run = subprocess.run([sys.executable, "-c", _CHILD, tree, args.data_dir], env=env, cwd=tree,
                           capture_output=True, text=True, check=False)
      lines = [l for l in run.stdout.splitlines() if l.startswith("RESULT ")]
      if run.returncode or not lines:
        raise RuntimeError(f"{name} ({tree}) failed:\n{run.stderr[-3000:]}")
      results[name].append(json.loads(lines[-1][len("RESULT "):]))
  from benchmarks._common import commit  # pylint: disable=import-outside-toplevel
  print(f"window start-up, {VIDEOS * FRAMES} records of {SIDE}x{SIDE} JPEG + flow, commit {commit()}, "
        f"{os.cpu_count()} CPUs; median of {args.rounds} rounds (min-max)")
  for name, rows in results.items():
    cells = []
    for key in ("scan_s", "first_batch_s"):
      v = np.array([r[key] for r in rows])
      cells.append(f"{key} {np.median(v):7.2f} s ({v.min():.2f}-{v.max():.2f})")
    print(f"  {name:10s} ({trees[name]}): " + "   ".join(cells))


if __name__ == "__main__":
  main()
