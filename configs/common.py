"""Shared defaults for every flowpose_jax config.

Configs are Python files with ``get_config(arg=None) -> ConfigDict``; variants
are arguments or ``--config.KEY=VALUE`` overrides, never copied files.
"""

import ml_collections


def base_config() -> ml_collections.ConfigDict:
  """Defaults: the CPU-sized single-frame model on the synthetic demo set."""
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.dataset = ml_collections.ConfigDict()
  c.dataset.name = "synthetic_signers/demo"  # TFDS name[/config]
  c.dataset.data_dir = ""  # "" -> TFDS default (~/tensorflow_datasets)
  c.dataset.train_split = "train"  # TFDS split, slices allowed ("train[:500]": the first 500 records)
  # Records of other prepared datasets appended to the training set, "NAME:SPLIT[,NAME:SPLIT...]"
  # (e.g. BBC Pose Extended's noisy videos); "" = none.
  c.dataset.extra_train = ""
  # Each training set's share of an epoch, main first ("1,1": half and half; the smaller set
  # repeats); "" = in proportion to their sizes.
  c.dataset.train_shares = ""
  # A seeded random subset of train_split (0 = all of it): the first N of one permutation drawn from
  # train_subset_seed, so smaller subsets lie inside larger ones (data-scaling studies set these).
  c.dataset.train_subset = 0
  c.dataset.train_subset_seed = 0
  # Which set train_subset draws from: "" = train_split, or one extra_train entry "NAME:SPLIT" exactly as
  # written there (train_split then stays whole, and train_subset 0 leaves that set and its train_shares
  # entry out: a data-scaling study over added data, `flowpose study data-scaling --scale_set`).
  c.dataset.subset_of = ""
  # Training records of LSP sets whose torso labels face away (a back view, or all labels swapped;
  # flowpose_jax/data/torso.py): "keep" as published, "swap" left and right, or "mask" their arms.
  c.dataset.reversed_torsos = "keep"
  c.dataset.eval_split = "validation"
  c.dataset.test_split = "test"

  c.input = ml_collections.ConfigDict()
  c.input.size = 128  # network input side, px (paper: 256)
  c.input.stride = 4  # input px per heatmap px (paper: 4 -> 64x64 maps)
  c.input.sigma = 1.5  # Gaussian sigma, heatmap px (release data_heatmap.cpp)
  c.input.crop = "frame"  # "frame": letterbox the whole frame; "box": the person box
  c.input.box_margin = 0.15  # crop "box": margin around the record's box, fraction of its width/height
  # crop "joints": the box of the annotated joints grown by this x its larger side
  # on each side (the "person box": 0.4); also two-pass inference's second crop.
  c.input.joints_margin = 0.4
  c.input.workers = 0  # grain worker processes (0 = in-process)
  c.input.shuffle_buffer_seed = 0
  c.input.read_threads = 4  # grain reader threads per process (ReadOptions.num_threads)
  c.input.prefetch_batches = 8  # batches buffered ahead per process (ReadOptions.prefetch_buffer_size)

  c.augment = ml_collections.ConfigDict()
  c.augment.enabled = True
  c.augment.scale = (0.8, 1.2)  # random scale factor range
  c.augment.rotation = 40.0  # degrees, uniform in [-r, r] (paper/release: 40)
  c.augment.translate = 0.05  # fraction of input size, uniform in [-t, t]
  c.augment.flip = True  # horizontal flip p=0.5 with left/right joint swap
  c.augment.brightness = 0.25  # colour jitter strengths (0 disables)
  c.augment.contrast = 0.25
  c.augment.saturation = 0.25
  # Real-footage augmentation (augment.degrade, frames.input_matrix), off by default:
  c.augment.blur = 0.0  # max Gaussian blur sigma, input px (half the examples)
  c.augment.occlusion = 0.0  # probability of one random flat-colour occluder
  c.augment.whole_frame = 0.0  # crop configs: probability of the whole letterboxed frame instead

  c.model = ml_collections.ConfigDict()
  c.model.name = "heatmap_net"
  c.model.width = 0.25  # channel multiplier (1.0 = paper)
  c.model.fusion = "release"  # "release" | "slides" | "none"
  c.model.final_relu = False  # release has ReLU on conv8; off avoids dead maps (docs/paper.md P2)
  c.model.dtype = "float32"  # compute dtype: float32 | bfloat16
  c.model.remat = False  # recompute conv activations in the backward pass (memory for compute)

  # Per-output loss weights (mean squared error over visible joints' maps).
  # The release's prototxt says heatmap 1, fusion 3, but its Euclidean layer
  # ignores loss_weight in the backward pass (docs/paper.md P1), so the gradient it
  # actually trained with weighs both outputs 1:1.
  c.loss = ml_collections.ConfigDict()
  c.loss.heatmap_weight = 1.0
  c.loss.fusion_weight = 1.0
  c.loss.pooled_weight = 1.0  # flowing model's pooled output
  c.loss.coords_weight = 1.0  # coordinate_net's coordinates (L2 in units of the map side)
  # Heatmap penalty: "l2" (the paper), or robust "huber" / "tukey" against noisy
  # labels (losses.heatmap_loss); robust_scale is their c, heatmap units (peak 1).
  c.loss.kind = "l2"
  c.loss.robust_scale = 0.5

  # Staged training: a workdir whose latest params initialise this run (a
  # single-frame run for the flowing model's "spatial" part); "" = scratch.
  c.init_from = ""
  # The command that makes init_from's run, named when it is missing (a config's documented default).
  c.init_from_command = ""

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = "adam"  # adam | sgd
  c.optimizer.learning_rate = 1e-3
  c.optimizer.schedule = "cosine"  # cosine | constant
  c.optimizer.warmup_steps = 50
  c.optimizer.momentum = 0.95  # sgd only (release: 0.95)
  c.optimizer.weight_decay = 0.0
  c.optimizer.grad_clip = 1.0  # global-norm clip (0 disables)

  c.batch_size = 16  # global, split over all devices
  c.grad_accum_steps = 1  # microbatches per step: same update, 1/k of the activation memory
  c.num_train_steps = 1000
  c.log_every = 25
  c.eval_every = 250
  c.checkpoint_every = 250
  c.keep_checkpoints = 3
  c.timelapse_every = 250  # predicted heatmaps of fixed val frames -> TensorBoard
  c.timelapse_frames = 4

  c.eval = ml_collections.ConfigDict()
  c.eval.max_distance = 20  # accuracy curves for d = 0..max_distance px
  c.eval.threshold = 6.0  # headline table at d px (BBC Pose: 6)
  c.eval.batch_size = 32
  c.eval.max_examples = 0  # 0 = whole split
  return c
