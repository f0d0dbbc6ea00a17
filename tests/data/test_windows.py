import dataclasses
import json

import numpy as np
import pytest
from flowpose_jax.configs import flow as flow_config
from flowpose_jax.configs.common import base_config

from flowpose_jax import heatmaps
from flowpose_jax.data import frames, pipeline, synthetic, windows
from flowpose_jax.errors import ConfigError
from flowpose_jax.flow import compute
from flowpose_jax.joints import FLIP_INDEX
from tests.data.signer_parts import JOINT_PARTS

NUM_FRAMES = 12
FRAME = 96
SEEDS = (3, 4)
N = 2
T = 2 * N + 1


def _records(v, vid: int) -> list[dict]:
  """A rendered video's frames as builder records of video ``vid``."""
  return [{
      "image": v["image"][t],
      "joints": v["joints"][t],
      "joints_true": v["joints"][t],
      "visible": v["visible"][t],
      "box": v["box"][t],
      "flow": v["flow"][t].astype(np.float16),
      "video_id": np.int32(vid),
      "frame_index": np.int32(t),
  } for t in range(len(v["image"]))]


def _render():
  videos, records = [], []
  for vid, seed in enumerate(SEEDS):
    v = synthetic.render_video(seed, num_frames=NUM_FRAMES, height=FRAME, width=FRAME)
    videos.append(v)
    records += _records(v, vid)
  return videos, records


VIDEOS, SOURCE = _render()


def _config(**overrides):
  """base_config with configs/flow.py's flow section (n = N), shrunk; overrides by dotted key."""
  c = base_config()
  c.flow = flow_config.get_config().flow
  c.flow.n = N
  c.input.size = FRAME  # letterbox scale 1: input px = frame px
  c.batch_size = 4
  c.eval.batch_size = 4
  c.input.read_threads = 2
  c.input.prefetch_batches = 2
  c.update_from_flattened_dict(overrides)
  return c


def _no_jitter(c):
  c.augment.brightness = c.augment.contrast = c.augment.saturation = 0.0
  return c


def test_flow_section_required_and_checked():
  no_flow = base_config()
  with pytest.raises(ConfigError, match=r"config\.flow is missing.*configs/flow\.py"):
    windows.WindowExamples(no_flow, SOURCE)
  c = _config()
  del c.flow["mode"]
  with pytest.raises(ConfigError, match=r"config\.flow\.mode"):
    windows.WindowExamples(c, SOURCE)
  with pytest.raises(ConfigError, match="config.flow.source='bogus'"):
    windows.WindowExamples(_config(**{"flow.source": "bogus"}), SOURCE)


def test_config_chooses_the_element_transform(assert_same_batches):
  no_flow = base_config()
  assert isinstance(pipeline.examples_for(SOURCE, no_flow), frames.FrameExamples)
  assert isinstance(pipeline.examples_for(SOURCE, _config()), windows.WindowExamples)
  # Single frames: every record is an element; windows: only annotated centres.
  source = [dict(r, annotated=(i % 2 == 0)) for i, r in enumerate(SOURCE)]
  np.testing.assert_array_equal(pipeline.examples_for(source, no_flow).elements, np.arange(len(source)))
  np.testing.assert_array_equal(pipeline.examples_for(source, _config()).elements,
                                np.arange(0, len(source), 2))


def test_layout_and_window_clipping():
  starts, ends = windows.video_layout(SOURCE)
  assert starts.tolist() == [0] * NUM_FRAMES + [NUM_FRAMES] * NUM_FRAMES
  assert ends.tolist() == [NUM_FRAMES] * NUM_FRAMES + [2 * NUM_FRAMES] * NUM_FRAMES
  vids = np.array([r["video_id"] for r in SOURCE])
  s2, e2 = windows.video_layout(video_ids=vids)
  np.testing.assert_array_equal(s2, starts)
  np.testing.assert_array_equal(e2, ends)
  assert windows.window_indices(0, N, starts, ends).tolist() == [0, 0, 0, 1, 2]
  assert windows.window_indices(11, N, starts, ends).tolist() == [9, 10, 11, 11, 11]
  assert windows.window_indices(12, N, starts, ends).tolist() == [12, 12, 12, 13, 14]
  assert windows.window_indices(5, N, starts, ends).tolist() == [3, 4, 5, 6, 7]
  for i in range(len(SOURCE)):
    idx = windows.window_indices(i, N, starts, ends)
    assert np.all(vids[idx] == vids[i])
  # A gap in frame_index splits a run.
  s3, e3 = windows.video_layout(video_ids=[0, 0, 0, 0], frame_indices=[0, 1, 5, 6])
  assert s3.tolist() == [0, 0, 2, 2] and e3.tolist() == [2, 2, 4, 4]


def _occluded(video, t, j):
  """Whether joint j of frame t is hidden (the front-most part is not one of its own)."""
  x, y = np.rint(video["joints"][t, j]).astype(int)
  if not (0 <= x < FRAME and 0 <= y < FRAME):
    return True
  return int(video["part_ids"][t, y, x]) not in JOINT_PARTS[j]


def test_invert_flow_accuracy():
  """Backward GT flow (inverted forward flow) moves visible joints t -> t-1."""
  errs = []
  for v in VIDEOS:
    for t in range(1, NUM_FRAMES):
      back = windows.invert_flow(v["flow"][t - 1])
      for j in range(v["joints"].shape[1]):
        if _occluded(v, t, j) or _occluded(v, t - 1, j):
          continue
        x, y = v["joints"][t, j]
        g = compute.sample_bilinear(back, np.array(x), np.array(y))
        errs.append(np.linalg.norm(v["joints"][t, j] + g - v["joints"][t - 1, j]))
  errs = np.array(errs)
  assert len(errs) > 50
  assert np.all(np.isfinite(errs))
  assert np.median(errs) < 0.05, np.median(errs)
  assert np.percentile(errs, 90) < 0.5, np.percentile(errs, 90)


def _dot_source():
  """Black frames with a bright 3x3 dot at a different known place per frame."""
  recs, dots = [], []
  rng = np.random.default_rng(0)
  for i, r in enumerate(SOURCE):
    img = np.zeros((FRAME, FRAME, 3), np.uint8)
    x, y = rng.integers(30, FRAME - 30, 2)
    img[y - 1:y + 2, x - 1:x + 2] = 255
    dots.append((x, y))
    recs.append(dict(r, image=img))
  return recs, np.array(dots, np.float32)


def test_same_augmentation_for_whole_window():
  source, dots = _dot_source()
  c = _config(**{"augment.rotation": 30.0, "augment.scale": (0.9, 1.1)})
  tr = windows.WindowExamples(c, source)
  for seed in range(6):
    i = [0, 5, 11, 13, 20, 23][seed]
    ex = tr.example(i, np.random.default_rng(seed))
    idx = windows.window_indices(i, N, tr.starts, tr.ends)
    assert ex["images"].shape == (T, FRAME, FRAME, 3)
    np.testing.assert_array_equal(ex["image"], ex["images"][N])
    for t, j in enumerate(idx):
      want = heatmaps.apply_affine(dots[j][None], ex["matrix"])[0]
      grey = ex["images"][t].astype(np.float32).sum(-1)
      yy, xx = np.mgrid[0:FRAME, 0:FRAME]
      w = np.where(grey > 0.5 * grey.max(), grey, 0)
      got = np.array([(w * xx).sum(), (w * yy).sum()]) / w.sum()
      np.testing.assert_allclose(got, want, atol=1.0)
    # Centre joints use the same matrix.
    jt = np.asarray(source[i]["joints"])
    if ex["flipped"]:
      jt = jt[list(FLIP_INDEX)]
    grid = heatmaps.input_to_heatmap(heatmaps.apply_affine(jt, ex["matrix"]), c.input.stride)
    np.testing.assert_allclose(ex["joints"], grid, atol=1e-4)


def _window_joints_grid(ex, idx, stride):
  """[T, J, 2] heatmap-grid joints of every window frame, in the example's joint order."""
  out = []
  for j in idx:
    jt = np.asarray(SOURCE[j]["joints"], np.float32)
    if ex["flipped"]:
      jt = jt[list(FLIP_INDEX)]
    out.append(heatmaps.input_to_heatmap(heatmaps.apply_affine(jt, ex["matrix"]), stride))
  return np.stack(out)


@pytest.mark.parametrize("augment_on", [False, True])
def test_gt_window_flow_moves_centre_joints(augment_on):
  c = _no_jitter(_config(**{"augment.enabled": augment_on, "augment.rotation": 30.0}))
  tr = windows.WindowExamples(c, SOURCE)
  errs, still, flips = [], [], 0
  for i in range(len(SOURCE)):
    ex = tr.example(i, np.random.default_rng(100 + i))
    flips += bool(ex["flipped"])
    idx = windows.window_indices(i, N, tr.starts, tr.ends)
    grid = _window_joints_grid(ex, idx, c.input.stride)
    vid, t0 = divmod(i, NUM_FRAMES)
    order = list(FLIP_INDEX) if ex["flipped"] else list(range(grid.shape[1]))
    assert np.all(ex["flows"][N] == 0)
    for t in range(T):
      lo, hi = sorted((t0, int(idx[t]) - vid * NUM_FRAMES))
      for k, src_j in enumerate(order):
        if any(_occluded(VIDEOS[vid], f, src_j) for f in range(lo, hi + 1)):
          continue
        u, v = grid[N, k]
        if not (0 <= u <= ex["flows"].shape[2] - 1 and 0 <= v <= ex["flows"].shape[1] - 1):
          continue
        conf = compute.sample_bilinear(ex["confidence"][t], np.array(u), np.array(v))[0]
        if conf < 1:
          continue
        f = compute.sample_bilinear(ex["flows"][t], np.array(u), np.array(v))
        errs.append(np.linalg.norm(grid[N, k] + f - grid[t, k]))
        still.append(np.linalg.norm(grid[N, k] - grid[t, k]))
  errs, still = np.array(errs), np.array(still)
  moving = still > 0.5  # joints that move over half a heatmap px within the window
  assert moving.sum() > 50
  assert np.median(errs[moving]) < 0.1 * np.median(still[moving]), (np.median(errs[moving]),
                                                                     np.median(still[moving]))
  assert len(errs) > 200
  if augment_on:
    assert flips > 0
  # Bilinear sampling on the heatmap grid mixes in neighbouring parts at joints near edges.
  assert np.median(errs) < 0.1, np.median(errs)
  assert np.mean(errs < 0.5) > 0.9, np.mean(errs < 0.5)


def test_flip_negates_flow_x():
  c = _no_jitter(_config(**{"augment.rotation": 0.0, "augment.scale": (1.0, 1.0),
                            "augment.translate": 0.0}))
  tr = windows.WindowExamples(c, SOURCE)
  by_flip = {}
  for seed in range(20):
    ex = tr.example(5, np.random.default_rng(seed))
    by_flip.setdefault(bool(ex["flipped"]), ex)
  plain, flipped = by_flip[False], by_flip[True]
  mirrored = plain["flows"][:, :, ::-1] * np.array([-1, 1], np.float32)
  np.testing.assert_allclose(flipped["flows"], mirrored, atol=1e-4)
  np.testing.assert_array_equal(flipped["confidence"], plain["confidence"][:, :, ::-1])
  assert np.abs(plain["flows"][..., 0]).max() > 0.1


def test_eval_transform_deterministic_and_keys():
  c = _config()
  ev = windows.WindowExamples(c, SOURCE)
  a, b = ev.example(7), ev.example(7)
  single = frames.FrameExamples(c, SOURCE).example(7)
  assert set(single) | {"images", "flows", "confidence"} == set(a)
  for k in single:
    np.testing.assert_array_equal(a[k], single[k], err_msg=k)
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
  h = c.input.size // c.input.stride
  assert a["flows"].shape == (T, h, h, 2) and a["flows"].dtype == np.float32
  assert a["confidence"].shape == (T, h, h, 1)
  assert np.all(np.isfinite(a["flows"]))


def test_train_iterator_determinism_and_state(take, assert_same_batches):
  c = _config()
  first = take(pipeline.make_train_iterator(SOURCE, c, shard_index=0, shard_count=1), 3)
  it = pipeline.make_train_iterator(SOURCE, c, shard_index=0, shard_count=1)
  again = take(it, 1)
  state = json.loads(json.dumps(it.get_state()))
  rest = take(it, 2)
  assert_same_batches(first, again + rest)
  it2 = pipeline.make_train_iterator(SOURCE, c, shard_index=0, shard_count=1)
  it2.set_state(state)
  assert_same_batches(rest, take(it2, 2))
  assert first[0]["images"].shape == (c.batch_size, T, FRAME, FRAME, 3)


def test_eval_batches_padding_and_annotated_centres():
  source = [dict(r, annotated=(i % 3 != 0)) for i, r in enumerate(SOURCE)]
  c = _config()
  batches = list(pipeline.make_eval_batches(source, c, batch_size=5))
  centres = [i for i in range(len(source)) if i % 3 != 0]
  assert len(batches) == -(-len(centres) // 5)
  mask = np.concatenate([b[pipeline.MASK_KEY] for b in batches])
  assert mask.sum() == len(centres) and not mask[-1]
  got = np.concatenate([b["video_id"] * NUM_FRAMES + b["frame_index"] for b in batches])[mask]
  assert got.tolist() == centres
  # Unannotated records still serve as neighbours: frame 0's window holds images.
  assert batches[0]["images"].shape == (5, T, FRAME, FRAME, 3)
  few = list(pipeline.make_eval_batches(source, c, batch_size=5, max_examples=3))
  assert len(few) == 1 and few[0][pipeline.MASK_KEY].sum() == 3


def test_computed_flow_cached(tmp_path, monkeypatch):
  c = _config(**{"flow.source": "dis_ultrafast", "flow.cache_dir": str(tmp_path), "flow.n": 1})
  a = windows.WindowExamples(c, SOURCE).example(4)
  assert a["flows"].shape[0] == 3 and np.abs(a["flows"]).max() > 0
  assert list(tmp_path.rglob("*.npz"))

  def fail(*args, **kwargs):
    raise AssertionError("recomputed a cached flow")

  monkeypatch.setattr(compute, "window_flows", fail)
  b = windows.WindowExamples(c, SOURCE).example(4)
  np.testing.assert_array_equal(a["flows"], b["flows"])


def test_fb_confidence_reaches_the_window_and_keeps_its_own_cache(tmp_path):
  """config.flow.confidence="fb": the example's confidence is the valid mask times a forward-backward
  test in [0, 1] (not only 0/1), the flows are those of "valid", and its cache is apart from "valid"'s;
  the exact flow refuses it."""
  common = {"flow.source": "dis_ultrafast", "flow.cache_dir": str(tmp_path), "flow.n": 1}
  valid = windows.WindowExamples(_config(**common), SOURCE).example(4)
  fb = windows.WindowExamples(_config(**common, **{"flow.confidence": "fb"}), SOURCE).example(4)
  np.testing.assert_array_equal(fb["flows"], valid["flows"])
  assert np.all(fb["confidence"] <= valid["confidence"])
  assert np.all((fb["confidence"] >= 0) & (fb["confidence"] <= 1))
  np.testing.assert_array_equal(fb["confidence"][1], valid["confidence"][1])  # the centre (n = 1): trusted
  between = (fb["confidence"] > 0.01) & (fb["confidence"] < 0.99)
  assert between.any(), "a forward-backward test gives graded confidence, not only the valid mask"
  assert len({p.parent.parent.name for p in tmp_path.rglob("*.npz")}) == 2  # two flow-<hash> folders
  with pytest.raises(ConfigError, match="confidence='fb'"):
    windows.flow_settings(_config(**{"flow.source": "gt", "flow.confidence": "fb"}))
  with pytest.raises(ConfigError, match="flow.confidence"):
    windows.flow_settings(_config(**{"flow.source": "dis_fast", "flow.confidence": "high"}))


def test_flows_to_heatmap_samples_a_confidence_channel():
  """A third channel is sampled with the flow: uniform 0.25 gives 0.25 where the flow is known, 0 elsewhere;
  the flows are those of the two channels alone, with and without motion spread."""
  rng = np.random.default_rng(0)
  flows = rng.normal(0, 3, (3, FRAME, FRAME, 2)).astype(np.float32)
  flows[1, :10] = np.nan
  with_conf = np.concatenate([flows, np.full(flows.shape[:3] + (1,), 0.25, np.float32)], -1)
  matrix = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
  for spread in (0.0, 4.0):
    grid, conf = windows.flows_to_heatmap(flows, matrix, FRAME, 4, spread)
    grid3, conf3 = windows.flows_to_heatmap(with_conf, matrix, FRAME, 4, spread)
    np.testing.assert_array_equal(grid3, grid)
    np.testing.assert_allclose(conf3, 0.25 * conf, atol=1e-6)
    assert 0 < conf.mean() < 1


def test_workers_match_in_process(take, assert_same_batches):
  plain = take(pipeline.make_train_iterator(SOURCE, _config(), shard_index=0, shard_count=1), 2)
  it = pipeline.make_train_iterator(SOURCE, _config(**{"input.workers": 1}),
                                   shard_index=0, shard_count=1)
  assert_same_batches(take(it, 2), plain)
  it.close()


def _fake_frame_fn(inputs):
  """A stand-in per-frame net: inputs [B, S, S, 3] uint8 -> [B, h, h, 7], each channel a different
  mix of the stride-pooled colours (so a wrong view, mirror or frame shows)."""
  b, s = inputs.shape[:2]
  stride = 4
  pooled = inputs.astype(np.float32).reshape(b, s // stride, stride, s // stride, stride, 3).mean((2, 4))
  mix = np.linspace(0.1, 1.0, 21, dtype=np.float32).reshape(3, 7)
  return pooled @ mix


def test_precomputed_maps_match_the_frames_a_window_would_show():
  """A window from precomputed maps holds exactly the maps its (flipped or plain) frames give, and the
  same flows, confidence and targets as the network path."""
  c = _no_jitter(_config(**{"augment.rotation": 0.0, "augment.scale": (1.0, 1.0), "augment.translate": 0.0}))
  maps = windows.frame_maps(_fake_frame_fn, SOURCE, c, batch_size=5)
  h = c.input.size // c.input.stride
  assert maps.shape == (len(SOURCE), windows.MAP_VIEWS, h, h, 7)
  network = windows.WindowExamples(c, SOURCE)
  pc = _config(**{"augment.rotation": 0.0, "augment.scale": (1.0, 1.0), "augment.translate": 0.0,
                  "flow.maps": "precomputed"})
  precomputed = windows.WindowExamples(pc, SOURCE, maps=maps)
  seen = set()
  for seed in range(20):
    rng = np.random.default_rng(seed)
    pre = precomputed.example(NUM_FRAMES - 1, rng)  # a window clipped at its video's end
    net = next(network.example(NUM_FRAMES - 1, np.random.default_rng(s)) for s in range(40)
               if bool(network.example(NUM_FRAMES - 1, np.random.default_rng(s))["flipped"]) == bool(pre["flipped"]))
    seen.add(bool(pre["flipped"]))
    assert "images" not in pre and pre["maps"].shape == (T, h, h, 7)
    np.testing.assert_allclose(pre["maps"], _fake_frame_fn(net["images"]), atol=1e-4)
    for k in ("flows", "confidence", "targets", "weights", "matrix", "frame_joints"):
      np.testing.assert_allclose(pre[k], net[k], atol=1e-5, err_msg=k)
  assert seen == {False, True}
  ev = windows.WindowExamples(pc, SOURCE, maps=maps).example(4)
  np.testing.assert_allclose(ev["maps"], _fake_frame_fn(windows.WindowExamples(c, SOURCE).example(4)["images"]),
                             atol=1e-4)


def test_precomputed_maps_are_checked():
  pc = _config(**{"flow.maps": "precomputed"})
  with pytest.raises(ConfigError, match="needs the frozen HeatmapNet's maps"):
    windows.WindowExamples(pc, SOURCE)
  with pytest.raises(ConfigError, match="config.flow.maps is 'network'"):
    windows.WindowExamples(_config(), SOURCE, maps=np.zeros((len(SOURCE), 2, 24, 24, 7)))
  from flowpose_jax.errors import InputError
  with pytest.raises(InputError, match=r"must be \[N=24, 2, 24, 24, J\]"):
    windows.WindowExamples(pc, SOURCE, maps=np.zeros((len(SOURCE) - 1, 2, 24, 24, 7)))
  with pytest.raises(ConfigError, match="config.flow.maps='bogus'"):
    windows.flow_settings(_config(**{"flow.maps": "bogus"}))
  # Frames cropped each to its own box do not share a view: refused, naming the record.
  boxed = _config(**{"flow.maps": "precomputed", "input.crop": "box"})
  maps = windows.frame_maps(_fake_frame_fn, SOURCE, boxed)
  with pytest.raises(InputError, match=r"record \d+ \(video 0, frame \d+\) has another evaluation view"):
    windows.WindowExamples(boxed, SOURCE, maps=maps).example(5)


def test_gt_windows_have_no_confidence_across_a_shot_cut():
  """The exact flow across a cut is NaN (synthetic.PHOTO_CUTS): a window's frames on the other side of
  the cut get zero confidence everywhere, those in the centre's shot do not."""
  params = dataclasses.replace(synthetic.PHOTO_CUTS, shot_cuts=(1, 1), shot_min_frames=4)
  v = synthetic.render_video(5, num_frames=NUM_FRAMES, height=FRAME, width=FRAME, params=params)
  cut = int(np.flatnonzero(~np.isfinite(v["flow"]).all((1, 2, 3)))[0]) + 1
  tr = windows.WindowExamples(_no_jitter(_config(**{"augment.enabled": False})), _records(v, 0))
  for i in range(NUM_FRAMES):
    ex = tr.example(i, np.random.default_rng(i))
    idx = windows.window_indices(i, N, tr.starts, tr.ends)
    for t, j in enumerate(idx):
      same_shot = (j < cut) == (i < cut)
      peak = ex["confidence"][t].max()
      assert (peak > 0) == same_shot, (i, int(j), cut, peak)
