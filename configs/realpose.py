"""Real footage: HeatmapNet + fusion fine-tuned on real Buffy frames (realpose/buffy).

  flowpose demo --workdir workdirs/demo                       # synthetic pretraining, ~10 min
  flowpose train --config configs/realpose.py --workdir workdirs/realpose   # ~90 min on 2 CPU cores

Expected (benchmarks/results/realpose.md, 2026-12-05, 2-core AMD EPYC): 65.2 %
of all joints within 20 px on Buffy episode 4's whole frames (96 frames, never
trained on; 3 passes with --flip_test), 33.3 / 74.0 % at 10 / 30 px; MediaPipe
Pose (full) gets 71.3 % there. Score it with

  flowpose evaluate --workdir workdirs/realpose --crop frame --flip_test

``--config.init_from=realpose`` starts from the package's shipped model instead
of the demo model (no ``flowpose demo`` needed): from the LSP-extended model
shipped on 2026-12-06 this recipe reached 64.0 % (31.4 / 77.8 % at 10 / 30 px,
one run), and that is the ``realpose`` shipped now.

Data: ``realpose/buffy`` (../shared/data/realpose + realpose_ep3: train =
episodes 2 + 3, 452 frames; validation = episode 4, 96 frames) plus the 100
PARSE images (``realpose/parse:train``, full-body, out of domain) in every
batch from the first step. Both build on first use from ../shared/data, which
only the project's developers have: elsewhere pass your own copy of those
folders with ``flowpose data build realpose --manual_dir ...``.

Weights start from the demo model (``config.init_from``, default
``workdirs/demo``, made by ``flowpose demo``; the network is fully
convolutional, so the 128² synthetic weights fit); one 9000-step cosine
schedule at lr 2e-3, batch 8, on crops of the annotated joints' box grown by
40 % of its larger side (``input.crop="joints"``), with scale 0.7-1.3,
rotation ±30°, flip with left/right swap, colour jitter, blur, a random
occluder and 20 % whole letterboxed frames, so that the one network serves
every whole-frame pass (``flowpose_jax/inference``: find the person on the
letterboxed frame, crop, re-crop).

arg:
  "" (default): the recipe above.
  "scratch": the same from random weights (no synthetic pretraining; 10-13
    points worse on whole frames, benchmarks/results/realpose.md).
  "lsp": the same with 9,500 LSP-extended images (``lsp/extended``, build it
    with ``flowpose data build lsp/extended --manual_dir DIR``) in every batch:
    half of each epoch Buffy, 10 % PARSE, 40 % LSP-extended.
  "stride2": the same with the stride-2 refine head (``model.output_stride=2``,
    ``flowpose_jax.models.heatmap_net``): 64x64 maps from the 128 px input, for
    finer localisation; from the demo model (its maps upsampled to start).
  "lsp_only": the same on LSP-extended's 9,500 training images alone (no
    Buffy, no PARSE), validated on its 500 held-out ones: what public data
    alone gives on episode 4 (score it with ``flowpose evaluate --dataset
    realpose/buffy --split validation --crop frame --flip_test``). Measured
    (2026-12-07, 83 min on 2 cores): 37.1 % on LSP's held-out images, 8.9 %
    at 20 px on episode 4's whole frames (30.1 % on the person box); at 4500
    steps 37.6, 11.8 and 29.6 %.

Every other recipe measured on this data (shorter, chained, TV-like synthetic
pretraining) is in benchmarks/results/realpose.md with the overrides that
reproduce it.
"""

from flowpose_jax.configs import common

ARGS = ("", "scratch", "lsp", "lsp_only", "stride2")
PRETRAINED = "workdirs/demo"
PRETRAINED_COMMAND = "flowpose demo --workdir workdirs/demo"
PARSE = "realpose/parse:train"  # PARSE's own 100 training images
# LSP-extended's first 9,500 images; the last 500 ("lsp/extended:train[9500:]") are held out to
# choose recipes on, beside episode 4.
LSP = "lsp/extended"
LSP_TRAIN_SPLIT, LSP_HELD_OUT = "train[:9500]", "train[9500:]"
LSP_TRAIN = f"{LSP}:{LSP_TRAIN_SPLIT}"


def get_config(arg=None):
  arg = arg or ""
  if arg not in ARGS:
    raise ValueError(f"configs/realpose.py takes arg '' (synthetic -> real) or one of "
                     f"{', '.join(repr(a) for a in ARGS[1:])}, got {arg!r}")
  c = common.base_config()
  c.dataset.name = "realpose/buffy"
  c.dataset.extra_train = PARSE
  c.dataset.eval_split = "validation"  # episode 4
  c.dataset.test_split = "validation"
  c.input.size = 128
  c.input.crop = "joints"
  c.input.joints_margin = 0.4
  c.model.width = 0.25
  c.augment.scale = (0.7, 1.3)
  c.augment.rotation = 30.0
  c.augment.translate = 0.1
  c.augment.brightness = 0.3
  c.augment.contrast = 0.3
  c.augment.saturation = 0.3
  c.augment.blur = 1.5
  c.augment.occlusion = 0.3
  c.augment.whole_frame = 0.2
  c.batch_size = 8
  c.num_train_steps = 9000
  c.optimizer.learning_rate = 2e-3
  c.optimizer.warmup_steps = 100
  c.log_every = 50
  c.eval_every = 3000
  c.checkpoint_every = 500
  c.timelapse_every = 500
  c.eval.threshold = 20.0
  c.eval.max_distance = 30
  if arg == "lsp":
    c.dataset.extra_train = f"{PARSE},{LSP_TRAIN}"
    c.dataset.train_shares = "5,1,4"
  if arg == "stride2":
    c.model.output_stride = c.input.stride = 2
    c.input.sigma = 2 * c.input.sigma  # the same Gaussian width in input px
  if arg == "lsp_only":
    c.dataset.name, c.dataset.train_split, c.dataset.extra_train = LSP, LSP_TRAIN_SPLIT, ""
    c.dataset.eval_split = c.dataset.test_split = LSP_HELD_OUT
  c.init_from = "" if arg == "scratch" else PRETRAINED
  c.init_from_command = "" if arg == "scratch" else PRETRAINED_COMMAND
  return c
