"""Real footage: HeatmapNet + fusion on the real Buffy frames (realpose/buffy).

  flowpose demo --workdir workdirs/demo                      # synthetic pretraining
  flowpose data build realpose --config buffy                # reads ../shared/data
  flowpose train --config configs/realpose.py --workdir workdirs/realpose

Protocol (../shared/data/realpose_ep3/SOURCE.md): train on episodes 2 + 3 (the
``train`` split, 452 frames), validate on episode 4 (``validation``, 96 frames,
never trained on). Validation during training and ``flowpose evaluate`` score
episode 4; a model trained on crops predicts whole frames in three passes
(``inference.Predictor.joints``: a coarse pass on the letterboxed frame, a
crop around the person it found, then a re-crop around that crop's joints).

arg: where the weights start.
  "" (default): synthetic -> real, fine-tuning the demo model of
    ``workdirs/demo`` (``config.init_from``; override it for another workdir).
  "scratch": real frames only, from random weights.
  "photo_pretrain": not real frames: continues the demo model on the TV-like
    synthetic footage (``flowpose data build synthetic_signers --config photo``)
    with this recipe's crops and augmentation, into
    ``workdirs/realpose_photo_pretrain``.
  "photo": synthetic -> TV-like synthetic -> real: fine-tunes that model.
  "long": synthetic -> real for 6000 steps (twice the default), into
    ``workdirs/realpose_long``.
  "long_finetune": the chain's second step: 3000 more steps of that model at
    lr 5e-4 (``init_from`` ``workdirs/realpose_long``), into
    ``workdirs/realpose_ft9000``.
  "parse_finetune": the best measured chain's third step: 3000 more steps of
    that model at lr 5e-4 (``init_from`` ``workdirs/realpose_ft9000``) with the
    100 PARSE images (``realpose/parse``, full-body, out of domain) added to the
    452 Buffy frames (``dataset.extra_train``).
  "one_run": the chain's ingredients in one command: 9000 steps from the demo
    model, one cosine schedule at lr 2e-3, the PARSE images in from the start,
    into ``workdirs/realpose_one_run``.

Input 128x128 as the demo (the architecture is fully convolutional, so the
synthetic weights fit), crops of the annotated joints' box grown by 40 % of its
larger side (``input.crop="joints"``, the issue's person box), with strong
augmentation for 452 frames: scale, rotation, flip with left/right swap,
colour, blur, occlusion, and 20 % whole letterboxed frames so that the same
network also serves the coarse pass.
"""

from configs import common

ARGS = ("", "scratch", "photo_pretrain", "photo", "long", "long_finetune", "parse_finetune", "one_run")
PRETRAINED = "workdirs/demo"
PHOTO_PRETRAINED = "workdirs/realpose_photo_pretrain"
LONG = "workdirs/realpose_long"
LONG_FINETUNED = "workdirs/realpose_ft9000"
PARSE = "realpose/parse:test"  # realpose/parse keeps its 100 images (PARSE's own training set) in "test"


def get_config(arg=None):
  arg = arg or ""
  if arg not in ARGS:
    raise ValueError(f"configs/realpose.py takes arg '' (synthetic -> real) or one of "
                     f"{', '.join(repr(a) for a in ARGS[1:])}, got {arg!r}")
  c = common.base_config()
  c.dataset.name = "realpose/buffy"
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
  c.num_train_steps = 3000
  c.optimizer.learning_rate = 2e-3
  c.optimizer.warmup_steps = 100
  c.log_every = 50
  c.eval_every = 1000
  c.checkpoint_every = 500
  c.timelapse_every = 500
  c.eval.threshold = 20.0
  c.eval.max_distance = 30
  c.init_from = {"scratch": "", "photo": PHOTO_PRETRAINED, "long_finetune": LONG,
                 "parse_finetune": LONG_FINETUNED}.get(arg, PRETRAINED)
  if arg == "long":
    c.num_train_steps = 6000
    c.eval_every = 2000
  if arg in ("parse_finetune", "one_run"):
    c.dataset.extra_train = PARSE
  if arg == "one_run":
    c.num_train_steps = 9000
    c.eval_every = 3000
  if arg in ("long_finetune", "parse_finetune"):
    c.optimizer.learning_rate = 5e-4
    c.optimizer.warmup_steps = 50
    c.eval_every = 1500
  if arg == "photo_pretrain":
    c.dataset.name = "synthetic_signers/photo"
    c.dataset.eval_split = "validation"
    c.dataset.test_split = "test"
    c.num_train_steps = 1200
    c.eval_every = 600
    c.eval.max_examples = 200
    c.eval.threshold = 6.0
    c.eval.max_distance = 20
  return c
