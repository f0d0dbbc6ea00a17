"""Predictor behaviour: joints stay in the frame, bucketed batches, the flowing paths, the runtimes."""

import numpy as np
import pytest

from configs import tiny
from flowpose_jax import inference, workdir as workdir_lib
from flowpose_jax.errors import InputError


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


def _flowing_predictor(n: int = 2, batch_size: int = 4) -> inference.Predictor:
  """configs/flow.py at the tiny size (64 px input, width 0.125), untrained, with uneven pooling weights
  (so a frame in the wrong window slot changes the output)."""
  from configs import flow as flow_config
  config = flow_config.get_config()
  config.input.size, config.model.width, config.flow.n = 64, 0.125, n
  graphdef, params = workdir_lib.make_model(config)
  rng = np.random.default_rng(1)
  params["pool"]["kernel"] = rng.uniform(0, 1, params["pool"]["kernel"].shape).astype(np.float32)
  return inference.Predictor(config, graphdef, params, batch_size=batch_size)


def _textured_clip(num_frames: int = 7, seed: int = 0, tint=(1.0, 1.0, 1.0)) -> np.ndarray:
  """[T, 60, 80, 3] uint8: a smooth random texture (times ``tint`` per channel) drifting right and down
  by a fraction of a px per frame."""
  import cv2
  rng = np.random.default_rng(seed)
  big = cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), (0, 0), 2.0)
  big = (big * np.asarray(tint, np.float32)).astype(np.uint8)
  out = []
  for t in range(num_frames):
    m = np.array([[1, 0, 20 + 0.7 * t], [0, 1, 15 + 0.4 * t]], np.float32)
    out.append(cv2.warpAffine(big, m, (80, 60), flags=cv2.INTER_LINEAR))
  return np.stack(out)


def _sequential_flowing(predictor, clip, causal=False):
  """The flowing maps one centre at a time (as before the flow threads): direct flows, flows_to_heatmap,
  one jitted pooling call per frame."""
  import jax
  from flowpose_jax.data import windows
  from flowpose_jax.flow import compute
  inputs, _ = predictor.preprocess(clip)
  _, pool = inference.flowing_parts(predictor.graphdef)
  pool = jax.jit(pool)
  maps = predictor.frame_maps(inputs)
  identity = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
  n, t_total = (predictor.config.model.num_frames - 1) // 2, len(clip)
  out = []
  for t in range(t_total):
    idx = np.clip(np.arange(t - n, t + n + 1), 0, t if causal else t_total - 1)
    flows = np.stack([compute.flow_between(inputs[t], inputs[j]) for j in idx])
    grid, conf = windows.flows_to_heatmap(flows, identity, predictor.input_size, predictor.stride)
    out.append(np.asarray(pool(predictor.params, maps[idx][None], grid[None], conf[None]))[0])
  return np.stack(out)


def test_threaded_batched_flowing_equals_one_centre_at_a_time():
  predictor = _flowing_predictor(batch_size=4)  # 7 frames: pooled in a batch of 4, then 3 padded to 4
  clip = _textured_clip(7)
  for causal in (False, True):
    expected = _sequential_flowing(predictor, clip, causal)
    for workers in (0, 2):
      timings = {}
      got = predictor.flowing_heatmaps(clip, causal=causal, flow_workers=workers, timings=timings)
      assert got.shape == (7, 16, 16, 7)
      np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=f"causal={causal} workers={workers}")
      assert set(timings) == {"heatmapnet_s", "flow_s", "warp_pool_s", "shots_s"}


def test_flowing_windows_stop_at_a_shot_cut():
  """A video cut from shot a to shot b: each frame's window stays in its shot, so b's flowing maps are
  those of b alone; treating the video as one shot pools frames of a into b's first frames."""
  predictor = _flowing_predictor(n=2, batch_size=4)
  a, b = _textured_clip(5), _textured_clip(6, seed=1, tint=(1.0, 0.6, 0.25))
  video = np.concatenate([a, b])
  assert inference.video_shots(video).tolist() == [0] * 5 + [1] * 6
  for causal in (False, True):
    got = predictor.flowing_heatmaps(video, causal=causal, flow_workers=0)
    np.testing.assert_allclose(got[:5], predictor.flowing_heatmaps(a, causal=causal, flow_workers=0), atol=1e-5)
    np.testing.assert_allclose(got[5:], predictor.flowing_heatmaps(b, causal=causal, flow_workers=0), atol=1e-5)
    given = predictor.flowing_heatmaps(video, causal=causal, flow_workers=0, shots=np.array([0] * 5 + [1] * 6))
    np.testing.assert_array_equal(given, got)
    one = predictor.flowing_heatmaps(video, causal=causal, flow_workers=0, shots="none")
    assert np.abs(one[5:7] - got[5:7]).max() > 1e-4, causal
  with pytest.raises(InputError, match="non-decreasing"):
    predictor.flowing_heatmaps(video, shots=np.array([0] * 6 + [1] * 4 + [0]))
  with pytest.raises(InputError, match="detect"):
    predictor.flowing_heatmaps(video, shots="auto")


def test_composed_flow_equals_direct_for_whole_pixel_motion(monkeypatch):
  """Frames that move by whole px: chaining consecutive flows gives the direct flows exactly."""
  from flowpose_jax.flow import compute
  predictor = _flowing_predictor(n=2, batch_size=4)
  clip = np.stack([np.full((64, 64, 3), 10 * t, np.uint8) for t in range(6)])  # frame t is value 10 t

  def shift_flow(a, b, method="dis_medium"):
    del method  # frame t sits (t, -t // 2 ...) px along: a -> b moves by the difference
    ta, tb = int(a[0, 0, 0]) // 10, int(b[0, 0, 0]) // 10
    move = np.array([tb - ta, (tb // 2) - (ta // 2)], np.float32)
    return np.broadcast_to(move, a.shape[:2] + (2,)).astype(np.float32)

  monkeypatch.setattr(compute, "flow_between", shift_flow)
  for causal in (False, True):
    direct = predictor.flowing_heatmaps(clip, causal=causal, flow_workers=2)
    composed = predictor.flowing_heatmaps(clip, mode="composed", causal=causal, flow_workers=2)
    np.testing.assert_allclose(composed, direct, atol=1e-6, err_msg=f"causal={causal}")
  # the flows matter: without them the maps differ
  zero = predictor.flowing_heatmaps(clip, mode="composed", flow_workers=0)
  monkeypatch.setattr(compute, "flow_between", lambda a, b, method="": np.zeros(a.shape[:2] + (2,), np.float32))
  assert np.abs(predictor.flowing_heatmaps(clip, mode="composed", flow_workers=0) - zero).max() > 1e-4


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
  from flowpose_jax.errors import FlowposeError

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
