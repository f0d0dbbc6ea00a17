"""Predictor behaviour that needs no trained model: joints stay in the frame."""

import numpy as np

from configs import tiny
from flowpose_jax import inference, workdir as workdir_lib


def test_whole_frame_joints_stay_in_the_frame(monkeypatch):
  config = tiny.get_config()
  graphdef, params = workdir_lib.make_model(config)
  predictor = inference.Predictor(config, graphdef, params)
  h = config.input.size // config.input.stride
  maps = np.zeros((1, h, h, 7), np.float32)
  maps[0, h - 1, :7, np.arange(7)] = 1.0  # peaks on the bottom row: letterbox padding of a wide frame
  monkeypatch.setattr(predictor, "predict_inputs", lambda inputs: np.repeat(maps, len(inputs), 0))
  frames = np.zeros((2, 405, 720, 3), np.uint8)
  joints, conf = predictor.joints(frames)
  assert joints.shape == (2, 7, 2)
  assert (joints[..., 0] >= 0).all() and (joints[..., 0] <= 719).all()
  np.testing.assert_allclose(joints[..., 1], 404.0)  # clipped to the last row, not y > 404
  assert (conf > 0.5).all()  # the peak's confidence is kept
