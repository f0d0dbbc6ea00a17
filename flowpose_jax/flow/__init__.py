"""Optical flow: host-side computation/cache (``compute``), the JAX warp (``warp``), shot cuts
(``shots``) and the runs of frames temporal windows are clipped to (``runs``)."""

from flowpose_jax.flow.compute import (CONFIDENCES, DEFAULT_METHOD, DEFAULT_MODE, FLOW_CODE_VERSION, GT_SOURCE,
                                       METHODS, MODES, SOURCES, FlowCache, available_methods, compose_flows,
                                       contrib_available, fb_confidence, flow_between, flow_config_key,
                                       sample_bilinear, window_flows, window_key, with_fb_confidence)
from flowpose_jax.flow.runs import frame_runs, window_bounds, window_indices
from flowpose_jax.flow.shots import shot_ids, shot_runs
from flowpose_jax.flow.warp import warp

__all__ = ["CONFIDENCES", "DEFAULT_METHOD", "DEFAULT_MODE", "FLOW_CODE_VERSION", "GT_SOURCE", "METHODS", "MODES",
           "SOURCES", "FlowCache", "available_methods", "compose_flows", "contrib_available", "fb_confidence",
           "flow_between", "flow_config_key", "frame_runs", "sample_bilinear", "shot_ids", "shot_runs", "warp",
           "window_bounds", "window_flows", "window_indices", "window_key", "with_fb_confidence"]
