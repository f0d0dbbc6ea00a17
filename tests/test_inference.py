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


def test_bucket_chunks_pad_to_the_smallest_bucket_that_fits():
  assert inference.batch_buckets(16) == (1, 2, 4, 8, 16)
  assert inference.batch_buckets(12) == (1, 2, 4, 8, 12)
  assert inference.bucket_chunks(1, 16) == [(0, 1, 1)]
  assert inference.bucket_chunks(5, 16) == [(0, 5, 8)]
  assert inference.bucket_chunks(37, 16) == [(0, 16, 16), (16, 32, 16), (32, 37, 8)]
  assert inference.bucket_chunks(0, 16) == []


def test_predict_inputs_compiles_once_per_bucket(monkeypatch):
  traces = []
  real_forward_fn = inference.forward_fn

  def counting_forward_fn(graphdef, output=None):
    forward = real_forward_fn(graphdef, output)

    def traced(params, *inputs):
      traces.append(inputs[0].shape[0])  # runs when jit traces, not when it replays
      return forward(params, *inputs)

    return traced

  monkeypatch.setattr(inference, "forward_fn", counting_forward_fn)
  config = tiny.get_config()
  graphdef, params = workdir_lib.make_model(config)
  predictor = inference.Predictor(config, graphdef, params, batch_size=16)
  s = config.input.size
  rng = np.random.default_rng(0)
  inputs = rng.integers(0, 256, (21, s, s, 3), dtype=np.uint8)
  outputs = {n: predictor.predict_inputs(inputs[:n]) for n in (1, 3, 1, 4, 3, 21, 5)}
  assert sorted(traces) == [1, 4, 8, 16]  # 21 = 16 + 5 -> 8; every later call replays a compiled bucket
  for n, out in outputs.items():
    assert out.shape == (n, s // config.input.stride, s // config.input.stride, 7)
  # padding never leaks into the real rows: frame 0 alone equals frame 0 in any batch
  np.testing.assert_allclose(outputs[3][:1], outputs[1], atol=1e-5)
  np.testing.assert_allclose(outputs[21][:5], outputs[5], atol=1e-5)
