"""Optical flow: host-side computation/cache (``compute``), the JAX warp (``warp``) and shot cuts (``shots``)."""

from flowpose_jax.flow.compute import (FLOW_CODE_VERSION, METHODS, MODES, FlowCache, compose_flows,
                                       flow_between, flow_config_key, sample_bilinear, window_flows,
                                       window_key)
from flowpose_jax.flow.shots import shot_ids, shot_runs
from flowpose_jax.flow.warp import warp

__all__ = ["FLOW_CODE_VERSION", "METHODS", "MODES", "FlowCache", "compose_flows", "flow_between",
           "flow_config_key", "sample_bilinear", "shot_ids", "shot_runs", "warp", "window_flows", "window_key"]
