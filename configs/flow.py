"""Flowing ConvNet stage: temporal pooling of 2n+1 warped heatmaps.

Staged training as in the paper: first the single-frame HeatmapNet + fusion,
then this stage on top of it:

  flowpose train --config configs/demo.py --workdir workdirs/demo
  flowpose train --config configs/flow.py:parametric --workdir workdirs/flow_parametric \\
      --config.init_from=workdirs/demo

Expected (README, 200 steps of batch 4 on exact flow, n = 3): 79.6 % average
accuracy at d = 6 px on the synthetic test split with parametric pooling,
against 75.5 % for the single-frame demo model.

arg: the pooling, a key of flowpose_jax.models.POOLING (parametric, the
paper's conv9; sum; max; data_dependent); default parametric. Training refuses
another name (config.model.pooling) before anything is written.

The HeatmapNet is frozen by default (``model.freeze``; the paper precomputed
its maps); ``--config.model.freeze='()' --config.model.finetune_spatial=true
--config.loss.fusion_weight=1`` fine-tunes it jointly. ``flow.source`` is the
synthetic set's exact flow ("gt") or OpenCV flow ("dis_fine", "dis_medium",
"farneback", ...), computed on the frames and cached (``flow.cache_dir``).

With the flow a video has (benchmarks/results/flowing.md, 2026-12-06): arg
data_dependent, ``--config.flow.source=dis_fine --config.flow.mode=composed
--config.flow.confidence=fb --config.flow.spread=4 --config.flow.n=15``
(n chosen on the validation split) gains +5.8 points on wrists and +16.8 on
elbows over the single frame on the synthetic test split (+6.1 wrists at n = 7).

The pooling-study recipe (README "Studies"): ``--config.flow.maps=precomputed``
(the frozen HeatmapNet's maps once per record, minutes instead of hours at
n = 15), ``--config.flow.spread=4`` (motion spread, chosen on the validation
split) and the pooling trained on frames the HeatmapNet never saw,
``--config.dataset.train_split='validation[:50%]'
--config.dataset.eval_split='validation[50%:]'``: on its own training frames
the demo HeatmapNet finds 88.9 % of elbows against 69.3 % on validation, so a
pooling learnt there trusts the centre frame too much.
"""

import ml_collections

from flowpose_jax.configs import demo


def get_config(arg=None):
  c = demo.get_config()
  n = ml_collections.FieldReference(3)
  # The crop the single-frame part was trained on, which sets whole-frame inference's passes
  # (Predictor.default_passes); "" = read from init_from's config.json at training (with its
  # input.joints_margin, the person-box rule), so a stage on configs/realpose.py takes 3 passes.
  c.input.spatial_crop = ""
  c.flow = ml_collections.ConfigDict()
  c.flow.n = n  # window t-n..t+n (paper: up to 15 on BBC Pose)
  c.flow.source = "gt"
  c.flow.mode = "direct"  # direct t->t+k flow, or "composed" consecutive flows
  c.flow.cache_dir = ""  # "" = <data_dir>/flow_cache for computed flow (keyed by the flow config)
  # "network": the frozen HeatmapNet runs on every window frame at every step (full augmentation);
  # "precomputed": its maps of every record once, as the paper's pipeline did (flip the only augmentation).
  c.flow.maps = "network"
  # Motion spread (input px): each heatmap pixel takes the largest known flow within this radius, so
  # a thin fast limb's map moves with it (windows.flows_to_heatmap); 0 = the pixel's own flow.
  c.flow.spread = 0.0
  # What the pooling learns about each warped pixel (data_dependent pooling reads it): "valid" (1
  # where the flow is known and stays in the frame) or "fb" (that times the forward-backward
  # consistency of computed flow, so a pooling trained on it can learn to distrust bad flow).
  c.flow.confidence = "valid"
  c.model.name = "flowing_net"
  c.model.num_frames = n * 2 + 1
  c.model.pooling = arg or "parametric"
  c.model.finetune_spatial = False
  c.model.freeze = ("spatial",)
  c.loss.heatmap_weight = 0.0
  c.loss.fusion_weight = 0.0
  c.loss.pooled_weight = 1.0
  c.optimizer.learning_rate = 1e-3
  c.optimizer.warmup_steps = 20
  c.num_train_steps = 400
  c.log_every = 20
  c.eval_every = 200
  c.checkpoint_every = 200
  c.timelapse_every = 200
  c.eval.batch_size = 8
  return c
