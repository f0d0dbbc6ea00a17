"""``synthetic_signers``: per-frame records of seeded synthetic signer videos.

Rendered by ``flowpose_jax.data.synthetic.render_video`` (exact joints and
exact forward optical flow). One example per frame; the three splits hold
disjoint videos. Build and read without TensorFlow::

  import flowpose_jax.data_builders.synthetic_signers as ss
  ss.build("tiny", data_dir)                       # download_and_prepare
  src = tfds.data_source("synthetic_signers/tiny", split="train", data_dir=data_dir)
  ex = src[0]   # dict of numpy arrays

Record order: ``disable_shuffling=True``. With it TFDS's writer orders the
records of a split by their (integer) key instead of a hash of it, and the key
here is ``video_id * frames_per_video + frame_index``, i.e. generation order.
So ``data_source(...)[i]`` is frame ``i % frames_per_video`` of the split's
``i // frames_per_video``-th video, and a temporal window of one video is a run
of consecutive indices (tests/data/test_synthetic.py checks this).

Features (H, W from the config):
  image: [H, W, 3] uint8 RGB, stored as JPEG (quality ``JPEG_QUALITY``).
  joints: [7, 2] float32 (x, y) px, 0-based, pixel centres at integers, BBC
    Pose order; the training labels: noisy for ``*_noisy`` configs' train
    split, otherwise equal to ``joints_true``.
  joints_true: [7, 2] float32, the exact joints.
  visible: [7] bool, joint inside the frame (occluded joints stay visible).
  box: [4] float32 person box x0, y0, x1, y1 (extreme body pixel centres).
  flow: [H, W, 2] float16 exact forward flow (dx, dy) px to the next frame of
    the same video (zeros on a video's last frame, NaN on a shot's last frame
    in ``photo_cuts``); zlib-compressed float16:
    relative error <= 2**-11, i.e. <= 0.008 px for |flow| < 32 px. Cast with
    ``.astype(np.float32)``.
  video_id: int32, unique over all splits of a config (train first, then
    validation, then test); read back as a Python int.
  frame_index: int32, 0..frames_per_video-1; read back as a Python int.

Configs: ``tiny``, ``demo`` and ``large`` (square frames, one centred
signer, static camera) and ``photo``: 16:9 frames of TV-like footage
(``synthetic.PHOTO``: smaller people anywhere in the width, up to two other,
unlabelled people in view, 1/f textures, uneven and often dim light, a panning
and zooming camera whose motion is in the flow), the pretraining set of
``configs/realpose.py:photo_pretrain``, and ``photo_cuts``: the same edited
like broadcast footage (``synthetic.PHOTO_CUTS``: up to two shot cuts per
video). Each has a ``*_noisy`` twin.

Measured on a 2-core CPU: ``tiny`` builds in ~0.5 s (1.3 MB), ``demo`` in
~22 s (50 MB, mostly flow); ``large`` is ~3 s per video (~25 min, not built
by tests).

Versions: ``VERSION`` is ``<synthetic.RENDER_VERSION>.<builder>.0``. TFDS
keeps each version in its own folder (``<data_dir>/synthetic_signers/<config>/
<version>/``); one built by an older renderer is never read: for the current
version ``is_prepared`` is False and ``tfds.data_source`` fails as for a
missing set (``sources.load_source`` names the build command), and building
writes the new version next to the old folder, which may be deleted.

Seeds: each video's seed is derived from the config's base name (without
``_noisy``), the split and the video index, so ``tiny`` and ``tiny_noisy`` hold
the same videos and differ only in their train labels.
"""

from __future__ import annotations

import dataclasses
import zlib

import cv2
from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from flowpose_jax import joints as joints_lib
from flowpose_jax.data import label_noise, synthetic
from flowpose_jax.errors import ConfigError

JPEG_QUALITY = 90
SPLITS: tuple[str, ...] = ("train", "validation", "test")
_NOISY_SUFFIX = "_noisy"
_NOISE_STREAM = 1  # seed-sequence stream of the label noise (0 = rendering).


@dataclasses.dataclass(frozen=True)
class _Size:
  videos: tuple[int, int, int]  # train, validation, test.
  frames: int
  height: int
  width: int
  noise: label_noise.LabelNoise
  params: synthetic.RenderParams = synthetic.RenderParams()


_REFERENCE_HEIGHT = 128  # LabelNoise defaults are in px at this frame height.
_SIZES: dict[str, _Size] = {
    "tiny": _Size((4, 2, 2), 12, 96, 96, label_noise.LabelNoise().scaled(96 / _REFERENCE_HEIGHT)),
    "demo": _Size((40, 8, 8), 50, 128, 128, label_noise.LabelNoise()),
    "large": _Size((400, 40, 40), 100, 256, 256,
                   label_noise.LabelNoise().scaled(256 / _REFERENCE_HEIGHT)),
    # TV-like 16:9 footage (``synthetic.PHOTO``): pretraining for real frames.
    "photo": _Size((40, 8, 8), 50, 144, 256, label_noise.LabelNoise().scaled(144 / _REFERENCE_HEIGHT),
                   synthetic.PHOTO),
    # The same, edited like broadcast footage: shot cuts (NaN flow across each cut).
    "photo_cuts": _Size((40, 8, 8), 50, 144, 256,
                        label_noise.LabelNoise().scaled(144 / _REFERENCE_HEIGHT), synthetic.PHOTO_CUTS),
}


class SyntheticSignersConfig(tfds.core.BuilderConfig):
  """Sizes of the splits and frames, and the train-label noise (None = clean)."""

  def __init__(self, *, name: str, num_videos: tuple[int, int, int], frames_per_video: int,
               height: int, width: int, noise: label_noise.LabelNoise | None,
               params: synthetic.RenderParams = synthetic.RenderParams(), **kwargs):
    """Args: num_videos per split (train, validation, test); frames_per_video;
    height, width in px; noise applied to the train split's ``joints`` or None;
    params: the renderer's knobs."""
    super().__init__(name=name, **kwargs)
    self.params = params
    self.num_videos = dict(zip(SPLITS, num_videos))
    self.frames_per_video = frames_per_video
    self.height = height
    self.width = width
    self.noise = noise


def _make_configs() -> list[SyntheticSignersConfig]:
  configs = []
  for base, size in _SIZES.items():
    for noisy in (False, True):
      desc = (f"{size.videos} (train, validation, test) videos x {size.frames} frames at "
              f"{size.height}x{size.width}; {'noisy' if noisy else 'clean'} train labels")
      configs.append(SyntheticSignersConfig(
          name=base + (_NOISY_SUFFIX if noisy else ""), description=desc,
          num_videos=size.videos, frames_per_video=size.frames, height=size.height,
          width=size.width, noise=size.noise if noisy else None, params=size.params))
  return configs


CONFIGS: tuple[SyntheticSignersConfig, ...] = tuple(_make_configs())


def video_seed(config_name: str, split: str, video_index: int) -> int:
  """Deterministic seed of one video; ``*_noisy`` configs share their base's videos."""
  base = config_name.removesuffix(_NOISY_SUFFIX)
  entropy = [zlib.crc32(base.encode()), SPLITS.index(split), video_index]
  return int(np.random.SeedSequence(entropy).generate_state(1)[0])


class SyntheticSigners(tfds.core.GeneratorBasedBuilder):
  """Synthetic signer videos, one example per frame, in (video, frame) order."""

  # MAJOR follows the renderer (``synthetic.RENDER_VERSION``), so a changed
  # renderer writes a new version folder instead of reusing stale data; bump
  # MINOR for changes of this builder's own output (encoding, label noise).
  VERSION = tfds.core.Version(f"{synthetic.RENDER_VERSION}.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = list(CONFIGS)

  # TFDS 4.9.10 resolves a packaged builder's code path through
  # `importlib_resources`, which it only requires on Python < 3.9; naming the
  # file directly avoids that import.
  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    return epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    h, w = cfg.height, cfg.width
    nj = joints_lib.NUM_JOINTS
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(h, w, 3), encoding_format="jpeg"),
            "joints": tfds.features.Tensor(shape=(nj, 2), dtype=np.float32),
            "joints_true": tfds.features.Tensor(shape=(nj, 2), dtype=np.float32),
            "visible": tfds.features.Tensor(shape=(nj,), dtype=np.bool_),
            "box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
            "flow": tfds.features.Tensor(shape=(h, w, 2), dtype=np.float16,
                                         encoding=tfds.features.Encoding.ZLIB),
            "video_id": tfds.features.Tensor(shape=(), dtype=np.int32),
            "frame_index": tfds.features.Tensor(shape=(), dtype=np.int32),
        }),
        disable_shuffling=True,
        homepage="https://arxiv.org/abs/1506.02897",
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: self._generate_examples(split) for split in SPLITS}

  def _generate_examples(self, split: str):
    cfg = self.builder_config
    first_id = sum(cfg.num_videos[s] for s in SPLITS[:SPLITS.index(split)])
    noise = cfg.noise if split == "train" else None
    for v in range(cfg.num_videos[split]):
      seed = video_seed(cfg.name, split, v)
      video = synthetic.render_video(seed, cfg.frames_per_video, cfg.height, cfg.width, cfg.params)
      labels = video["joints"]
      if noise is not None:
        rng = np.random.default_rng([seed, _NOISE_STREAM])
        labels = label_noise.corrupt_labels(video["joints"], video["visible"], rng,
                                            **dataclasses.asdict(noise))
      video_id = first_id + v
      for t in range(cfg.frames_per_video):
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(video["image"][t], cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
          raise RuntimeError(f"JPEG encoding failed for video {video_id} frame {t}")
        key = video_id * cfg.frames_per_video + t
        yield key, {
            "image": jpeg.tobytes(),
            "joints": labels[t].astype(np.float32),
            "joints_true": video["joints"][t],
            "visible": video["visible"][t],
            "box": video["box"][t],
            "flow": video["flow"][t].astype(np.float16),
            "video_id": np.int32(video_id),
            "frame_index": np.int32(t),
        }


def build(config_name: str, data_dir: str) -> None:
  """Renders and writes ``synthetic_signers/<config_name>`` (array_record) under data_dir."""
  names = [c.name for c in CONFIGS]
  if config_name not in names:
    raise ConfigError(f"unknown synthetic_signers config {config_name!r}; valid: {names}")
  builder = SyntheticSigners(config=config_name, data_dir=data_dir)
  builder.download_and_prepare(file_format="array_record")
