"""The per-frame model: bucketed jitted batches, flip test, the runtimes."""

import cv2
import numpy as np
import pytest

from flowpose_jax.configs import tiny
from flowpose_jax import inference, joints as joints_lib, workdir as workdir_lib
from flowpose_jax.errors import FlowposeError
from flowpose_jax.inference import model as model_lib
from tests.inference import fakes


def test_predict_inputs_compiles_once_per_bucket(monkeypatch):
  traces = []
  real_forward_fn = model_lib.forward_fn

  def counting_forward_fn(graphdef, output=None):
    forward = real_forward_fn(graphdef, output)

    def traced(params, *inputs):
      traces.append(inputs[0].shape[0])  # runs when jit traces, not when it replays
      return forward(params, *inputs)

    return traced

  monkeypatch.setattr(model_lib, "forward_fn", counting_forward_fn)
  config = tiny.get_config()
  graphdef, params = workdir_lib.make_model(config)
  model = model_lib.FrameModel(config, graphdef, params, batch_size=16)
  s = config.input.size
  rng = np.random.default_rng(0)
  inputs = rng.integers(0, 256, (21, s, s, 3), dtype=np.uint8)
  outputs = {n: model.predict_inputs(inputs[:n]) for n in (1, 3, 1, 4, 3, 21, 5)}
  assert sorted(traces) == [1, 4, 8, 16]  # 21 = 16 + 5 -> 8; every later call replays a compiled bucket
  for n, out in outputs.items():
    assert out.shape == (n, s // config.input.stride, s // config.input.stride, 7)
  # padding never leaks into the real rows: frame 0 alone equals frame 0 in any batch
  np.testing.assert_allclose(outputs[3][:1], outputs[1], atol=1e-5)
  np.testing.assert_allclose(outputs[21][:5], outputs[5], atol=1e-5)


def test_a_flowing_model_takes_windows_not_single_images():
  model = fakes.flowing_predictor(n=1)
  inputs = np.zeros((3, 64, 64, 3), np.uint8)
  assert model.frame_maps(inputs).shape == (3, 16, 16, 7)  # its HeatmapNet's maps, before pooling
  with pytest.raises(FlowposeError, match="takes temporal windows"):
    model.predict_inputs(inputs)


def test_flip_test_of_a_mirror_equivariant_network_changes_nothing():
  predictor = fakes.marker_predictor()
  frame = np.full(fakes.FRAME_HW + (3,), 40, np.uint8)
  for k, (x, y) in enumerate(np.array([200.0, 180.0]) + fakes.BODY):  # pairs share the right joint's colour
    colour = fakes.COLOURS[k - 1 if k in (2, 4, 6) else k].tolist()
    cv2.circle(frame, (int(x), int(y)), 9, colour, -1)
  predictor.set_runtime("sided markers", fakes.sided_net(predictor.input_size, predictor.stride))
  inputs, _ = predictor.preprocess([frame], joints_lib.joints_box(np.array([200.0, 180.0]) + fakes.BODY,
                                                                   margin=0.4)[None])
  plain = predictor.frame_maps(inputs)
  assert plain[..., 2].max() > 0.5 and plain[..., 1].max() > 0.5  # both wrists found
  predictor.flip_test = True
  np.testing.assert_allclose(predictor.frame_maps(inputs), plain, atol=1e-6)


# The export tests' ONNX tolerance (tests/export/test_export.py TOLERANCES["onnx"]): max abs heatmap
# difference, max joint difference in frame px, against JAX.
ONNX_TOLERANCE = (1e-4, 0.05)


def _test_frames(tiny_data_dir, count):
  from flowpose_jax.data.sources import load_source
  source = load_source("synthetic_signers/tiny", "test", tiny_data_dir)
  return np.stack([source[i]["image"] for i in range(count)])


def test_onnx_runtime_matches_jax(tiny_workdir, tiny_data_dir):
  pytest.importorskip("jax2onnx", reason="the onnx runtime needs jax2onnx: pip install --no-deps jax2onnx==0.17.1")
  pytest.importorskip("onnxruntime", reason="the onnx runtime needs onnxruntime: pip install -e '.[export]'")
  from flowpose_jax import runtimes
  frames = _test_frames(tiny_data_dir, runtimes.AUTO_MIN_FRAMES)
  predictor = inference.load(tiny_workdir)
  maps_jax, (joints_jax, _) = predictor.heatmaps(frames), predictor.joints(frames)
  runtimes.use(predictor, "onnx")
  maps_onnx, (joints_onnx, _) = predictor.heatmaps(frames), predictor.joints(frames)
  assert predictor.runtime == "onnxruntime"
  assert np.abs(maps_onnx - maps_jax).max() <= ONNX_TOLERANCE[0]
  assert np.abs(joints_onnx - joints_jax).max() <= ONNX_TOLERANCE[1]
  runtimes.use(predictor, "auto")
  predictor.heatmaps(frames[:1])
  assert predictor.runtime == "auto"  # one frame: stays on JAX, undecided
  np.testing.assert_allclose(predictor.joints(frames)[0], joints_jax, atol=ONNX_TOLERANCE[1])
  assert predictor.runtime in ("jax", "onnxruntime")  # decided on the first 16-frame input


def test_auto_runtime_falls_back_to_jax_without_onnx(tiny_workdir, tiny_data_dir, monkeypatch):
  from flowpose_jax import runtimes

  def missing(predictor, batch=1):
    raise FlowposeError("ONNX export needs jax2onnx and onnx: pip install ...")

  monkeypatch.setattr(runtimes, "OnnxFrames", missing)
  frames = _test_frames(tiny_data_dir, runtimes.AUTO_MIN_FRAMES)
  predictor = inference.load(tiny_workdir)
  expected = predictor.heatmaps(frames)
  runtimes.use(predictor, "auto")
  np.testing.assert_array_equal(predictor.heatmaps(frames), expected)
  assert predictor.runtime == "jax"
  with pytest.raises(FlowposeError, match="jax2onnx"):
    runtimes.use(predictor, "onnx")
