"""The facade ``flowpose_jax.load`` returns: joints in frame px, on whole frames, boxes or videos."""

import cv2
import numpy as np
import pytest

import flowpose_jax
from flowpose_jax.configs import tiny
from flowpose_jax import heatmaps, inference, workdir as workdir_lib
from flowpose_jax.errors import InputError
from tests.inference.fakes import flowing_predictor, textured_clip


def test_load_heatmaps_and_joints_any_frame_size(tiny_workdir):
  model = flowpose_jax.load(tiny_workdir)
  frames = np.random.default_rng(0).integers(0, 256, (3, 90, 170, 3), dtype=np.uint8)
  hm = model.heatmaps(frames)
  h = model.input_size // model.stride
  assert hm.shape == (3, h, h, 7) and hm.dtype == np.float32
  joints, conf = model.joints(frames)
  assert joints.shape == (3, 7, 2) and conf.shape == (3, 7)
  # letterboxed: decoded joints lie inside the (padded) frame's extent
  assert (joints[..., 0] > -1).all() and (joints[..., 0] < 171).all()


def test_bad_frames_are_named(tiny_workdir):
  model = flowpose_jax.load(tiny_workdir)
  with pytest.raises(InputError, match="wrap it as frames"):
    model.heatmaps(np.zeros((10, 10, 3), np.uint8))
  with pytest.raises(InputError, match="dtype float32"):
    model.heatmaps(np.zeros((1, 10, 10, 3), np.float32))


def test_whole_frame_joints_stay_in_the_frame(monkeypatch):
  config = tiny.get_config()
  graphdef, params = workdir_lib.make_model(config)
  predictor = inference.Predictor(config, graphdef, params)
  h = config.input.size // config.input.stride
  maps = np.zeros((1, h, h, 7), np.float32)
  maps[0, h - 1, :7, np.arange(7)] = 1.0  # peaks on the bottom row: letterbox padding of a wide frame
  monkeypatch.setattr(predictor, "frame_maps", lambda inputs: np.repeat(maps, len(inputs), 0))
  frames = np.zeros((2, 405, 720, 3), np.uint8)
  joints, conf = predictor.joints(frames)
  assert joints.shape == (2, 7, 2)
  assert (joints[..., 0] >= 0).all() and (joints[..., 0] <= 719).all()
  np.testing.assert_allclose(joints[..., 1], 404.0)  # clipped to the last row, not y > 404
  assert (conf > 0.5).all()  # the peak's confidence is kept


@pytest.mark.parametrize("passes", [1, 2])
def test_flowing_joints_warp_each_frame_once_per_pass(monkeypatch, passes):
  """``joints(flow=True)`` crops each frame once per pass: the flowing pass reuses the network inputs
  it decodes with (it used to preprocess every frame twice)."""
  predictor = flowing_predictor(n=1)
  clip = textured_clip(5)
  expected = predictor.joints(clip, flow=True, passes=passes, flow_workers=0)
  warps = []
  real = cv2.warpAffine
  monkeypatch.setattr(cv2, "warpAffine", lambda *a, **k: warps.append(1) or real(*a, **k))
  joints, conf = predictor.joints(clip, flow=True, passes=passes, flow_workers=0)
  assert len(warps) == passes * len(clip)
  np.testing.assert_array_equal(joints, expected[0])
  assert conf.shape == (5, 7)
  if passes == 1:  # the joints decode the flowing maps through the same letterbox
    _, mats = predictor.preprocess(clip)
    hm = predictor.flowing_heatmaps(clip, flow_workers=0)
    np.testing.assert_array_equal(heatmaps.decode_to_frame(hm, mats, predictor.stride, clip.shape[1:3])[0], joints)
