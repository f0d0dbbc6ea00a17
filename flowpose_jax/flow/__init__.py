"""Optical flow: host-side computation/cache (``compute``) and the JAX warp (``warp``)."""

from flowpose_jax.flow.compute import (FLOW_CODE_VERSION, METHODS, MODES, FlowCache, compose_flows,
                                       fb_consistency, flow_between, flow_config_key,
                                       resample_flow, sample_bilinear, window_flows, window_key)
from flowpose_jax.flow.warp import Warp, warp

__all__ = ["FLOW_CODE_VERSION", "METHODS", "MODES", "FlowCache", "Warp", "compose_flows",
           "fb_consistency", "flow_between", "flow_config_key", "resample_flow",
           "sample_bilinear", "warp", "window_flows", "window_key"]
