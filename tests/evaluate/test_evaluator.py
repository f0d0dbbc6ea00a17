"""The full coordinate chain: frame -> letterbox -> heatmap -> decode -> frame."""

import numpy as np

from flowpose_jax.configs import tiny
from flowpose_jax import heatmaps
from flowpose_jax.data import pipeline
from flowpose_jax.evaluate import evaluator, protocols

FRAME_PX = protocols.Protocol(distances=(6.0,), note="frame px")


def _records(n, h, w, seed=0):
  rng = np.random.default_rng(seed)
  recs = []
  for i in range(n):
    joints = np.stack([rng.uniform(4, w - 5, 7), rng.uniform(4, h - 5, 7)], -1).astype(np.float32)
    visible = np.ones(7, bool)
    visible[i % 7] = i % 3 != 0  # some joints missing
    if not visible[i % 7]:
      joints[i % 7] = -999.0
    recs.append({"image": rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "joints": joints,
                 "visible": visible, "video_id": 0, "frame_index": i})
  return recs


def test_perfect_heatmaps_score_within_subpixel_in_frame_pixels():
  config = tiny.get_config()
  records = _records(11, 90, 150)  # non-square: letterboxed
  batches = list(pipeline.make_eval_batches(records, config, batch_size=4))
  current = {}

  def feed():
    for b in batches:
      current["targets"] = b["targets"]
      yield b

  result = evaluator.evaluate(lambda batch: current["targets"], feed(), stride=config.input.stride,
                              protocol=FRAME_PX, max_distance=3)
  pred = result["predictions"]
  gt = np.stack([r["joints"] for r in records])
  vis = np.stack([r["visible"] for r in records])
  err = np.linalg.norm(pred - gt, axis=-1)[vis]
  # decoding is exact for the codec's own maps, borders included
  assert err.max() < 0.05, err.max()
  assert result["counts"].sum() == vis.sum()  # missing joints and padded rows excluded
  assert np.allclose(result["per_joint"][1:], 1.0)


def test_shifted_prediction_is_scored_as_wrong():
  config = tiny.get_config()
  records = _records(4, 64, 64)
  batches = list(pipeline.make_eval_batches(records, config, batch_size=4))
  shifted = np.roll(batches[0]["targets"], 3, axis=2)  # 3 heatmap px = 12 frame px to the right
  result = evaluator.evaluate(lambda batch: shifted, batches, stride=config.input.stride, protocol=FRAME_PX,
                              max_distance=20)
  assert np.nanmax(result["average"][:10]) == 0.0
  assert result["average"][13] > 0.5


def test_per_example_scale_normalises_errors():
  """FLIC-style: errors in % of a per-example length (padding rows ignored)."""
  config = tiny.get_config()
  records = _records(5, 64, 64)
  batches = list(pipeline.make_eval_batches(records, config, batch_size=4))
  h = config.input.size // config.input.stride
  # predictions 1 heatmap px (= 4 frame px here) right of the truth
  shifted = [heatmaps.encode(np.nan_to_num(b["joints"]) + [1.0, 0.0], b["weights"] > 0, h) for b in batches]
  it = iter(shifted)
  norms = np.array([50.0, 50.0, 100.0, 100.0, 100.0])  # 4 px = 8 % or 4 %
  result = evaluator.evaluate(lambda batch: next(it), batches, stride=config.input.stride,
                              protocol=protocols.PROTOCOLS["flic"], max_distance=20, norms=norms)
  hits = result["hits"].sum(-1)
  counts = result["counts"].sum()
  # joints of examples 2-4 are right at d = 5 (%); those of 0-1 only from d = 10
  vis = np.stack([r["visible"] for r in records])
  assert hits[5] == vis[2:].sum() and hits[10] == counts


def test_whole_frame_predictions_score_as_the_pipeline_does():
  """``evaluate_frames`` (two-pass inference's path) scores frame-px
  predictions of whole records against their joints with the same rule as the
  pipeline's path: missing joints excluded, every record once, in order."""
  config = tiny.get_config()
  config.dataset.name = "no_protocol"
  records = _records(9, 90, 150)
  rng = np.random.default_rng(1)
  noise = rng.normal(0, 4, (len(records), 7, 2)).astype(np.float32)
  truth = np.stack([r["joints"] for r in records])
  guesses = truth + noise
  seen = []

  def predict_joints(frames):
    start = sum(len(s) for s in seen)
    seen.append(frames)
    assert all(f.shape == (90, 150, 3) and f.dtype == np.uint8 for f in frames)
    return guesses[start:start + len(frames)]

  by_frames, protocol = evaluator.evaluate_source(None, records, config, dataset="no_protocol",
                                                  predict_joints=predict_joints)
  assert sum(len(s) for s in seen) == len(records)
  assert protocol.distances == (config.eval.threshold,)
  errors = np.linalg.norm(noise, axis=-1)
  vis = np.stack([r["visible"] for r in records])
  for d in (2, 6, 10):  # pooled over joints, the -999 joints excluded
    assert by_frames["average"][d] == np.mean(errors[vis] <= d)
  np.testing.assert_allclose(by_frames["predictions"], guesses)
  assert by_frames["counts"].sum() == vis.sum()  # the -999 joints are missing here too
