"""CoordinateNet, the paper's baseline: regresses the 7 (x, y) coordinates directly (L2).

  flowpose train --config configs/coordinate.py --workdir workdirs/coordinate
  flowpose evaluate --workdir workdirs/coordinate

Same data, input and budget as configs/demo.py, so the two score in one
table (`flowpose evaluate` of each workdir). The arg, like demo's, picks the
synthetic_signers config (tiny | demo | large | *_noisy).
"""

from flowpose_jax.configs import demo


def get_config(arg=None):
  c = demo.get_config(arg)
  c.model.name = "coordinate_net"
  del c.model.fusion, c.model.final_relu  # HeatmapNet's; CoordinateNet takes width and dtype
  c.model.width = 0.25
  return c
