"""Optical flow: host-side computation/cache (``compute``) and the JAX warp (``warp``)."""

from flowpose_jax.flow.compute import (FLOW_CODE_VERSION, METHODS, MODES, FlowCache, compose_flows,
                                       flow_between, flow_config_key, sample_bilinear, window_flows,
                                       window_key)
from flowpose_jax.flow.warp import warp

__all__ = ["FLOW_CODE_VERSION", "METHODS", "MODES", "FlowCache", "compose_flows", "flow_between",
           "flow_config_key", "sample_bilinear", "warp", "window_flows", "window_key"]
