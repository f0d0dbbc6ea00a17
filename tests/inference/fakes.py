"""Models and frames the inference tests share: an untrained tiny flowing model, a drifting texture
video, and a per-frame "network" that really reads its input (coloured joint markers)."""

import cv2
import numpy as np

from flowpose_jax import inference, workdir as workdir_lib

COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255],
                    [0, 255, 255], [255, 128, 0]], np.uint8)
FRAME_HW = (405, 720)
# Person-centric layout (x, y) of an upper body at scale 1 (head, R/L wrist, R/L elbow, R/L shoulder).
BODY = np.array([[0, -60], [-70, 90], [70, 90], [-75, 30], [75, 30], [-45, -10], [45, -10]], np.float32)


def flowing_predictor(n: int = 2, batch_size: int = 4, **flow) -> inference.Predictor:
  """configs/flow.py at the tiny size (64 px input, width 0.125), untrained, with uneven pooling weights
  (so a frame in the wrong window slot changes the output); ``flow``: config.flow overrides."""
  from flowpose_jax.configs import flow as flow_config
  config = flow_config.get_config()
  config.input.size, config.model.width, config.flow.n = 64, 0.125, n
  config.flow.update(flow)
  graphdef, params = workdir_lib.make_model(config)
  rng = np.random.default_rng(1)
  params["pool"]["kernel"] = rng.uniform(0, 1, params["pool"]["kernel"].shape).astype(np.float32)
  return inference.Predictor(config, graphdef, params, batch_size=batch_size)


def textured_clip(num_frames: int = 7, seed: int = 0, tint=(1.0, 1.0, 1.0)) -> np.ndarray:
  """[T, 60, 80, 3] uint8: a smooth random texture (times ``tint`` per channel) drifting right and down
  by a fraction of a px per frame."""
  rng = np.random.default_rng(seed)
  big = cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), (0, 0), 2.0)
  big = (big * np.asarray(tint, np.float32)).astype(np.uint8)
  out = []
  for t in range(num_frames):
    m = np.array([[1, 0, 20 + 0.7 * t], [0, 1, 15 + 0.4 * t]], np.float32)
    out.append(cv2.warpAffine(big, m, (80, 60), flags=cv2.INTER_LINEAR))
  return np.stack(out)


def colour_net(size: int, stride: int):
  """Per-frame maps: map k is the fraction of each heatmap cell covered by ``COLOURS[k]`` (blurred),
  so the maps depend on the crop exactly as a trained network's would."""
  h = size // stride

  def run(inputs: np.ndarray) -> np.ndarray:
    match = np.all(inputs[:, :, :, None, :].astype(np.int16) == COLOURS[None, None, None].astype(np.int16), -1)
    cover = match.reshape(len(inputs), h, stride, h, stride, len(COLOURS)).mean((2, 4))
    return np.stack([cv2.GaussianBlur(c.astype(np.float32), (0, 0), 1.0) for c in cover]) * 4.0
  return run


def sided_net(size: int, stride: int):
  """Maps that are exactly mirror-equivariant as a trained network's should be:
  one colour per joint type, the person's right (image left, camera-facing)
  from the left half of the input, the left from the right half."""
  h = size // stride
  markers = colour_net(size, stride)
  left_half = (np.arange(h) < h // 2)[None, None, :, None]

  def run(inputs):
    maps = markers(inputs)  # channels 1, 3, 5 detect the pair's shared colour (see the test)
    out = maps.copy()
    for right, left in ((1, 2), (3, 4), (5, 6)):
      out[..., right] = maps[..., right] * left_half[..., 0]
      out[..., left] = maps[..., right] * ~left_half[..., 0]
    return out
  return run


def draw(frame: np.ndarray, centre, scale: float, radius: int) -> np.ndarray:
  """Draws a person's joint markers (``BODY`` at ``scale`` around ``centre``); returns their [7, 2] points."""
  points = centre + BODY * scale
  for k, (x, y) in enumerate(points):
    cv2.circle(frame, (int(round(x)), int(round(y))), radius, COLOURS[k].tolist(), -1, lineType=cv2.LINE_8)
  return points


def marker_predictor() -> inference.Predictor:
  """configs/tiny.py at 128 px, crop-trained ("joints"), its per-frame network ``colour_net``."""
  from flowpose_jax.configs import tiny
  config = tiny.get_config()
  config.input.size = 128
  config.input.crop = "joints"
  graphdef, params = workdir_lib.make_model(config)
  p = inference.Predictor(config, graphdef, params)
  p.set_runtime("colour markers", colour_net(config.input.size, config.input.stride))
  return p
