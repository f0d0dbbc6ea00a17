"""The HeatmapNet rebuilt in PyTorch from ``weights.safetensors`` (torch optional).

  net, spec = torch_net.load("export/weights.safetensors")
  maps = net(torch.from_numpy(inputs))  # [B, S, S, 3] uint8 RGB -> [B, h, w, J] float32

Proof that the exported weights are usable outside JAX: the wiring comes from
the file's metadata (``spec.architecture``), kernel sizes and channels from the
tensors. Computes in NCHW (channels-last memory), takes and returns NHWC like
the JAX model. Rebuilds the single-frame net (a flowing model's "frame" part);
the pooling stays with the exported graphs.
"""

from __future__ import annotations

import numpy as np

from flowpose_jax.errors import FlowposeError
from flowpose_jax.export import weights


def _torch():
  try:
    import torch  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise FlowposeError("torch_net needs PyTorch: pip install torch (CPU wheel), then load again") from None
  return torch


def build(tensors: dict[str, np.ndarray], spec: dict):
  """A torch ``nn.Module`` of the HeatmapNet in ``spec["architecture"]`` with ``tensors``' weights."""
  arch = spec.get("architecture", {}).get("heatmap_net")
  if arch is None:
    raise FlowposeError(f"torch_net rebuilds HeatmapNets only; this export is a {spec.get('model')!r}")
  if arch.get("refine") is not None:
    raise FlowposeError("torch_net rebuilds stride-4 HeatmapNets; this export has the stride-2 refine head "
                        "(model.output_stride=2): run its ONNX, StableHLO or TensorFlow export instead")
  torch = _torch()
  functional = torch.nn.functional
  output = spec.get("output")
  pixels = spec["pixels"]

  def conv_params(name):
    kernel = torch.from_numpy(np.ascontiguousarray(tensors[f"{name}.kernel"].transpose(3, 2, 0, 1)))  # HWIO->OIHW
    kernel = kernel.contiguous(memory_format=torch.channels_last)
    return torch.nn.Parameter(kernel, requires_grad=False), torch.nn.Parameter(
        torch.from_numpy(tensors[f"{name}.bias"]), requires_grad=False)

  class HeatmapNet(torch.nn.Module):
    """[B, S, S, 3] uint8 RGB -> [B, h, w, J] float32 maps (the export's output)."""

    def __init__(self):
      super().__init__()
      self.layer_names = [layer["tensors"] for layer in arch["layers"]]
      self.pools = [layer["max_pool_2x2_after"] for layer in arch["layers"]]
      self.convs = torch.nn.ParameterList()
      names = self.layer_names + [arch["conv8"]["tensors"]]
      if arch["fusion"] is not None:
        names += arch["fusion"]["hidden"] + [arch["fusion"]["out"]]
      for name in names:
        self.convs.extend(conv_params(name))

    def _conv(self, i, x):
      kernel, bias = self.convs[2 * i], self.convs[2 * i + 1]
      k = kernel.shape[-1]
      if k % 2:
        return functional.conv2d(x, kernel, bias, padding=k // 2)
      x = functional.pad(x, ((k - 1) // 2, k // 2, (k - 1) // 2, k // 2))  # flax 'SAME' for an even k
      return functional.conv2d(x, kernel, bias)

    def forward(self, images):
      x = images.permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)
      x = x * pixels["scale"] - pixels["centre"]
      feats = []
      for i, pool in enumerate(self.pools):
        x = torch.relu(self._conv(i, x))
        if pool:
          x = functional.max_pool2d(x, 2, 2)
        feats.append(x)
      i = len(self.pools)
      heat = self._conv(i, x)
      if arch["conv8"]["relu"]:
        heat = torch.relu(heat)
      if arch["fusion"] is not None and output != "heatmap":
        x = torch.cat([feats[j] for j in arch["fusion"]["inputs"]], 1)
        for k in range(len(arch["fusion"]["hidden"])):
          x = torch.relu(self._conv(i + 1 + k, x))
        heat = self._conv(i + 1 + len(arch["fusion"]["hidden"]), x)
      return heat.permute(0, 2, 3, 1)

  return HeatmapNet().eval()


def load(path: str):
  """``weights.safetensors`` -> (torch HeatmapNet, spec)."""
  tensors, spec = weights.load(path)
  return build(tensors, spec), spec
