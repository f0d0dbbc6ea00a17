"""The flowing video pipeline: threads and batches change nothing, windows stop at shot cuts, composed
flow equals direct flow for whole-pixel motion, each stage's seconds are counted once, and the flow is
the one the model was trained with unless given."""

import time

import jax
import numpy as np
import pytest

from flowpose_jax import inference
from flowpose_jax.data import windows
from flowpose_jax.errors import FlowposeError, InputError
from flowpose_jax.flow import compute, shots as shots_lib
from flowpose_jax.inference import video
from tests.inference.fakes import flowing_predictor, textured_clip


def _sequential_flowing(predictor, clip, causal=False):
  """The flowing maps one centre at a time (as before the flow threads): direct flows, flows_to_heatmap,
  one jitted pooling call per frame."""
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
  predictor = flowing_predictor(batch_size=4)  # 7 frames: pooled in a batch of 4, then 3 padded to 4
  clip = textured_clip(7)
  for causal in (False, True):
    expected = _sequential_flowing(predictor, clip, causal)
    for workers in (0, 2):
      timings = {}
      got = predictor.flowing_heatmaps(clip, causal=causal, mode="direct", flow_workers=workers, timings=timings)
      assert got.shape == (7, 16, 16, 7)
      np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=f"causal={causal} workers={workers}")
      assert set(timings) == set(video.STAGES) == {"preprocess_s", "heatmapnet_s", "flow_s", "warp_pool_s",
                                                    "shots_s"}


def test_flowing_windows_stop_at_a_shot_cut():
  """A video cut from shot a to shot b: each frame's window stays in its shot, so b's flowing maps are
  those of b alone; treating the video as one shot pools frames of a into b's first frames."""
  predictor = flowing_predictor(n=2, batch_size=4)
  a, b = textured_clip(5), textured_clip(6, seed=1, tint=(1.0, 0.6, 0.25))
  video_frames = np.concatenate([a, b])
  assert inference.video_shots(video_frames).tolist() == [0] * 5 + [1] * 6
  for causal in (False, True):
    got = predictor.flowing_heatmaps(video_frames, causal=causal, flow_workers=0)
    np.testing.assert_allclose(got[:5], predictor.flowing_heatmaps(a, causal=causal, flow_workers=0), atol=1e-5)
    np.testing.assert_allclose(got[5:], predictor.flowing_heatmaps(b, causal=causal, flow_workers=0), atol=1e-5)
    given = predictor.flowing_heatmaps(video_frames, causal=causal, flow_workers=0,
                                       shots=np.array([0] * 5 + [1] * 6))
    np.testing.assert_array_equal(given, got)
    one = predictor.flowing_heatmaps(video_frames, causal=causal, flow_workers=0, shots="none")
    assert np.abs(one[5:7] - got[5:7]).max() > 1e-4, causal
  with pytest.raises(InputError, match="non-decreasing"):
    predictor.flowing_heatmaps(video_frames, shots=np.array([0] * 6 + [1] * 4 + [0]))
  with pytest.raises(InputError, match="detect"):
    predictor.flowing_heatmaps(video_frames, shots="auto")


def test_window_indices_clip_to_the_shot_and_causal_to_the_past():
  ids = np.array([0, 0, 0, 1, 1])
  assert [w.tolist() for w in video.window_indices(ids, 1)] == [[0, 0, 1], [0, 1, 2], [1, 2, 2], [3, 3, 4],
                                                                [3, 4, 4]]
  assert [w.tolist() for w in video.window_indices(ids, 1, causal=True)] == [[0, 0, 0], [0, 1, 1], [1, 2, 2],
                                                                             [3, 3, 3], [3, 4, 4]]


def test_composed_flow_equals_direct_for_whole_pixel_motion(monkeypatch):
  """Frames that move by whole px: chaining consecutive flows gives the direct flows exactly."""
  predictor = flowing_predictor(n=2, batch_size=4)
  clip = np.stack([np.full((64, 64, 3), 10 * t, np.uint8) for t in range(6)])  # frame t is value 10 t

  def shift_flow(a, b, method="dis_medium"):
    del method  # frame t sits (t, -t // 2 ...) px along: a -> b moves by the difference
    ta, tb = int(a[0, 0, 0]) // 10, int(b[0, 0, 0]) // 10
    move = np.array([tb - ta, (tb // 2) - (ta // 2)], np.float32)
    return np.broadcast_to(move, a.shape[:2] + (2,)).astype(np.float32)

  monkeypatch.setattr(compute, "flow_between", shift_flow)
  for causal in (False, True):
    direct = predictor.flowing_heatmaps(clip, mode="direct", causal=causal, flow_workers=2)
    composed = predictor.flowing_heatmaps(clip, mode="composed", causal=causal, flow_workers=2)
    np.testing.assert_allclose(composed, direct, atol=1e-6, err_msg=f"causal={causal}")
  # the flows matter: without them the maps differ
  zero = predictor.flowing_heatmaps(clip, mode="composed", flow_workers=0)
  monkeypatch.setattr(compute, "flow_between", lambda a, b, method="": np.zeros(a.shape[:2] + (2,), np.float32))
  assert np.abs(predictor.flowing_heatmaps(clip, mode="composed", flow_workers=0) - zero).max() > 1e-4


@pytest.mark.parametrize("spread", [0.0, 4.0])
def test_composed_window_flows_apply_the_motion_spread_as_training_does(spread):
  """A 2 px bar moving 6 px right (backward: 6 px left, with a confidence channel) over a static
  background: chaining the one-step flows at the spread samples gives what training's
  ``flows_to_heatmap`` gives the same window flows, spread or not: the pixels beside the bar carry
  its motion only with spread 4, and their confidence comes from the sample chosen."""
  from flowpose_jax import heatmaps
  from flowpose_jax.data import windows
  from flowpose_jax.inference.window_flows import composed_window_flows
  size, stride = 32, 4
  identity = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
  forward = np.zeros((size, size, 3), np.float32)
  forward[..., 2] = 0.9
  forward[:, 15:17, 0], forward[:, 15:17, 2] = 6.0, 0.5
  backward = forward.copy()
  backward[..., 0] *= -1
  offsets = windows.spread_offsets(spread) if spread else None
  got, conf = composed_window_flows(1, np.array([0, 1, 2]), [forward], [backward],
                                    heatmaps.heatmap_points(identity, size, stride, offsets), (size, size),
                                    identity, stride)
  still = np.concatenate([np.zeros((size, size, 2), np.float32), np.ones((size, size, 1), np.float32)], -1)
  want, want_conf = windows.flows_to_heatmap(np.stack([backward, still, forward]), identity, size, stride, spread)
  np.testing.assert_allclose(got, want, atol=1e-5)
  np.testing.assert_allclose(conf, want_conf, atol=1e-6)
  beside = got[2, 1:-1, 3:5, 0]  # x = 13.5 and 17.5, rows clear of the top and bottom border
  np.testing.assert_allclose(beside, 1.5 if spread else 0.0)  # 6 px = 1.5 heatmap px
  assert 0.4 < conf[2, 3, 3, 0] < 0.6 if spread else conf[2, 3, 3, 0] == pytest.approx(0.9)


def _slow(fn, seconds):
  def run(*args, **kwargs):
    time.sleep(seconds)
    return fn(*args, **kwargs)
  return run


def test_each_stage_is_timed_once_and_the_stages_fit_in_the_wall_time(monkeypatch):
  """Slow fake stages: preprocessing 0.3 s, shot detection 0.4 s, the network 0.1 s, each flow 0.02 s.
  Each stage's seconds are its own (the network's do not include the shot detection, nor the
  preprocessing), and, with the flows computed in this thread, all of them fit in the wall time."""
  predictor = flowing_predictor(n=1, batch_size=4)
  clip = textured_clip(5)
  predictor.flowing_heatmaps(clip, flow_workers=0)  # compiles
  monkeypatch.setattr(predictor, "preprocess", _slow(predictor.preprocess, 0.3))
  monkeypatch.setattr(predictor, "frame_maps", _slow(predictor.frame_maps, 0.1))
  monkeypatch.setattr(shots_lib, "shot_ids", _slow(shots_lib.shot_ids, 0.4))
  monkeypatch.setattr(compute, "flow_between", _slow(compute.flow_between, 0.02))
  timings = {}
  start = time.perf_counter()
  predictor.flowing_heatmaps(clip, flow_workers=0, timings=timings)
  wall = time.perf_counter() - start
  slack = 0.15  # the real work of a stage (tiny here), on a busy machine
  assert 0.3 <= timings["preprocess_s"] < 0.3 + slack, timings
  assert 0.4 <= timings["shots_s"] < 0.4 + slack, timings
  assert 0.1 <= timings["heatmapnet_s"] < 0.1 + slack, timings
  assert 8 * 0.02 <= timings["flow_s"], timings  # 5 windows, 2 flows each but 1 at the ends (clipped)
  assert 0.0 < timings["warp_pool_s"] < slack, timings
  assert sum(timings.values()) <= wall, (timings, wall)


@pytest.mark.parametrize("mode", compute.MODES)
def test_fb_trained_model_gets_fb_confidence_on_video(monkeypatch, mode):
  """A model trained with config.flow.confidence="fb" is given each window's forward-backward confidence:
  direct mode the pair's test (as compute.window_flows computes it), composed mode the product of its
  steps'; flows whose reverse disagrees get confidence near 0 there."""
  predictor = flowing_predictor(n=1, source="dis_fast", confidence="fb", mode=mode)
  clip = textured_clip(4)

  def lopsided(a, b, method):  # still on the right half (consistent); 2 px right both ways on the left
    del b, method
    flow = np.zeros(a.shape[:2] + (2,), np.float32)
    flow[:, : a.shape[1] // 2, 0] = 2.0
    return flow

  seen = []
  real_pool = type(predictor).pool_windows
  monkeypatch.setattr(type(predictor), "pool_windows",
                      lambda self, maps, flows, conf: seen.append(np.asarray(conf)) or real_pool(self, maps, flows, conf))
  monkeypatch.setattr(compute, "flow_between", lopsided)
  predictor.flowing_heatmaps(clip, flow_workers=2)
  conf = np.concatenate(seen)  # [T (padded), 3, h, h, 1]
  assert conf.shape[1] == 3
  np.testing.assert_array_equal(conf[:4, 1], 1.0)  # the centre
  graded = conf[:4][:, [0, 2]]
  assert graded.min() < 0.05 and graded.max() > 0.95  # bad round trips distrusted, good ones trusted


def test_flowing_heatmaps_run_the_trained_flow(monkeypatch):
  predictor = flowing_predictor(n=1, source="dis_fast")
  methods = []
  real = compute.flow_between
  monkeypatch.setattr(compute, "flow_between", lambda a, b, method: methods.append(method) or real(a, b, method))
  predictor.flowing_heatmaps(textured_clip(3), flow_workers=0)
  assert set(methods) == {"dis_fast"}
  methods.clear()
  predictor.flowing_heatmaps(textured_clip(3), source="farneback", flow_workers=0)
  assert set(methods) == {"farneback"}


def test_a_single_frame_model_has_no_temporal_stage():
  from tests.inference.fakes import marker_predictor
  with pytest.raises(FlowposeError, match="has no temporal stage"):
    marker_predictor().flowing_heatmaps(textured_clip(3))
