"""Inference: ``flowpose_jax.load(workdir)`` -> a ``Predictor``.

A Predictor maps uint8 RGB frames of any size to heatmaps and to joints in the
input frame's pixels. Its three parts, lowest first:
  model.py    the per-frame model: preprocess (``inputs``) -> network on a
              runtime (JAX in bucketed batches, ``batching``; or onnxruntime,
              ``flowpose_jax.runtimes``) -> maps; flip test; ``predict_batch``
  person.py   person search in whole frames: the passes, box smoothing
  video.py    the flowing video pipeline: the flow as trained (``trained_flow``)
              computed in threads (``window_flows``), windows within shots, pooling
predictor.py composes them (``Predictor``, ``load``). A flowing model's
exportable halves are ``models.flowing_parts``; its precomputed maps
``train.precomputed``.
"""

from flowpose_jax.inference.batching import BATCH_BUCKETS, DEFAULT_BATCH, batch_buckets, bucket_chunks
from flowpose_jax.inference.inputs import check_box
from flowpose_jax.inference.model import FrameModel
from flowpose_jax.inference.person import CROP_PASSES, PERSON_MIN_CONFIDENCE, smooth_boxes
from flowpose_jax.inference.predictor import Predictor, load
from flowpose_jax.inference.trained_flow import flow_choice
from flowpose_jax.inference.video import require_flowing, video_shots
from flowpose_jax.inference.window_flows import composed_window_flows
from flowpose_jax.models import flowing_parts
from flowpose_jax.train.precomputed import precompute_maps

__all__ = ["BATCH_BUCKETS", "CROP_PASSES", "DEFAULT_BATCH", "PERSON_MIN_CONFIDENCE", "FrameModel", "Predictor",
           "batch_buckets", "bucket_chunks", "check_box", "composed_window_flows", "flow_choice", "flowing_parts",
           "load", "precompute_maps", "require_flowing", "smooth_boxes", "video_shots"]
