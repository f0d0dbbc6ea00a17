import json

import numpy as np
import pytest
from flowpose_jax.configs.common import base_config

from flowpose_jax import heatmaps
from flowpose_jax.data import augment, frames, pipeline
from flowpose_jax.errors import ConfigError
from flowpose_jax.joints import FLIP_INDEX, NUM_JOINTS

FRAME_HW = (72, 128)


def _record(i, hw=FRAME_HW):
  """A synthetic record: seeded random texture, joints well inside the frame."""
  rng = np.random.default_rng(1000 + i)
  h, w = hw
  image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
  joints = rng.uniform([0.3 * w, 0.3 * h], [0.7 * w, 0.7 * h], (NUM_JOINTS, 2)).astype(np.float32)
  return {
      "image": image,
      "joints": joints,
      "joints_true": joints + np.float32(0.25),
      "visible": np.ones(NUM_JOINTS, bool),
      "video_id": np.int32(i),
      "frame_index": np.int32(10 * i),
      "flow": np.zeros((h, w, 2), np.float32),
  }


def _config(**overrides):
  c = base_config()
  c.input.size = 64
  c.batch_size = 4
  c.eval.batch_size = 4
  c.input.read_threads = 2
  c.input.prefetch_batches = 2
  c.update_from_flattened_dict(overrides)
  return c


SOURCE = [_record(i) for i in range(10)]


def _train_example(record, config, seed):
  return frames.FrameExamples(config, [record]).example(0, np.random.default_rng(seed))


def _eval_example(record, config):
  return frames.FrameExamples(config, [record]).example(0)


def test_train_example_keys_shapes_and_consistency():
  config = _config()
  ex = _train_example(SOURCE[0], config, 0)
  h = 64 // 4
  assert ex["image"].shape == (64, 64, 3) and ex["image"].dtype == np.uint8
  assert ex["targets"].shape == (h, h, NUM_JOINTS) and ex["targets"].dtype == np.float32
  assert ex["weights"].shape == (NUM_JOINTS,) and ex["weights"].dtype == np.float32
  assert ex["joints"].shape == (NUM_JOINTS, 2) and ex["matrix"].shape == (2, 3)
  assert ex["frame_visible"].dtype == bool and ex["video_id"].dtype == np.int32
  assert "flow" not in ex
  on = ex["weights"] > 0
  decoded, _ = heatmaps.decode(ex["targets"][None])
  np.testing.assert_allclose(decoded[0][on], ex["joints"][on], atol=0.05)


@pytest.mark.parametrize("seed", range(8))
def test_matrix_maps_labels_back_to_frame_joints_in_channel_order(seed):
  # With joints_true == joints, channel k of the target maps back to frame_joints[k]
  # through the inverse of the recorded matrix, flipped or not.
  record = dict(SOURCE[seed % len(SOURCE)])
  record["joints_true"] = record["joints"]
  ex = _train_example(record, _config(), seed)
  back = heatmaps.apply_affine(heatmaps.heatmap_to_input(ex["joints"], 4), heatmaps.invert_affine(ex["matrix"]))
  np.testing.assert_allclose(back, ex["frame_joints"], atol=1e-3)


def test_flip_occurs_and_swaps_frame_joints():
  flips = [bool(_train_example(SOURCE[0], _config(), s)["flipped"]) for s in range(8)]
  assert any(flips) and not all(flips)


@pytest.mark.parametrize("transform", ["train", "eval"])
def test_missing_joints_masked_not_origin(transform):
  config = _config()
  record = dict(SOURCE[1])
  joints = record["joints"].copy()
  joints[1] = -999.0
  joints[2] = np.nan
  visible = np.ones(NUM_JOINTS, bool)
  visible[3] = False
  record.update(joints=joints, joints_true=joints, visible=visible)
  if transform == "train":
    ex = _train_example(record, config, 0)
  else:
    ex = _eval_example(record, config)
  missing = {1, 2, 3}
  if ex["flipped"]:
    missing = {FLIP_INDEX[k] for k in missing}
  missing = sorted(missing)
  present = sorted(set(range(NUM_JOINTS)) - set(missing))
  assert (ex["weights"][missing] == 0).all() and (ex["weights"][present] == 1).all()
  assert ex["targets"][..., missing].max() == 0.0
  assert (ex["targets"][..., present].max((0, 1)) > 0.5).all()
  assert np.isnan(ex["joints"][missing]).all()
  assert np.isnan(ex["frame_joints"][missing]).all() and not ex["frame_visible"][missing].any()


def test_off_map_joints_get_zero_weight_and_empty_map():
  config = _config()
  record = dict(SOURCE[2])
  joints = record["joints"].copy()
  joints[0] = (-40.0, 30.0)  # left of the frame
  joints[1] = (60.0, FRAME_HW[0] + 50.0)  # far below the letterboxed frame
  joints[2] = (0.0, 0.0)  # the corner pixel centre is still on the map
  record.update(joints=joints, joints_true=joints)
  ex = _eval_example(record, config)
  np.testing.assert_array_equal(ex["weights"], [0, 0, 1, 1, 1, 1, 1])
  assert ex["targets"][..., :2].max() == 0.0
  assert ex["frame_visible"][:2].all()  # annotated: evaluation may still score them


def test_eval_transform_equals_train_without_augmentation(assert_same_batches):
  config = _config(**{"augment.enabled": False})
  a = _train_example(SOURCE[3], config, 5)
  b = _eval_example(SOURCE[3], config)
  assert_same_batches([a], [b])
  np.testing.assert_array_equal(b["matrix"], heatmaps.letterbox_matrix(FRAME_HW, None, 64))


def test_same_seed_same_batches_and_other_seed_differs(take, assert_same_batches):
  a = take(pipeline.make_train_iterator(SOURCE, _config(), shard_index=0, shard_count=1), 4)
  b = take(pipeline.make_train_iterator(SOURCE, _config(), shard_index=0, shard_count=1), 4)
  c = take(pipeline.make_train_iterator(SOURCE, _config(seed=1), shard_index=0, shard_count=1), 4)
  assert_same_batches(a, b)
  assert not np.array_equal(a[0]["image"], c[0]["image"])
  ids = np.concatenate([x["video_id"] for x in a])  # 16 draws over 2 epochs of 10
  assert set(ids[:8].tolist()) <= set(range(10)) and len(set(ids[:10].tolist())) == 10


def test_checkpoint_state_round_trip(take, assert_same_batches):
  config = _config()
  it = pipeline.make_train_iterator(SOURCE, config, shard_index=0, shard_count=1)
  take(it, 3)  # 12 examples: already into the second epoch of 10
  state = json.loads(json.dumps(it.get_state()))
  expected = take(it, 3)
  resumed = pipeline.make_train_iterator(SOURCE, config, shard_index=0, shard_count=1)
  resumed.set_state(state)
  assert_same_batches(take(resumed, 3), expected)


def test_host_shards_are_disjoint_within_an_epoch(take):
  config = _config(batch_size=4)
  ids = []
  for index in range(2):
    it = pipeline.make_train_iterator(SOURCE, config, shard_index=index, shard_count=2)
    first = take(it, 2)  # 2 local batches of 2 per host: 8 of the epoch's 10 positions
    assert first[0]["image"].shape[0] == 2
    ids.append([int(v) for b in first for v in b["video_id"]])
  assert len(set(ids[0])) == 4 and len(set(ids[1])) == 4 and not set(ids[0]) & set(ids[1])


@pytest.mark.parametrize("count", [2, 5])
def test_global_batches_do_not_depend_on_the_host_count(take, count):
  """Global batch k (the hosts' k-th local batches) holds the same augmented
  examples whatever the host count: a run can move to more or fewer hosts."""
  config = _config(batch_size=10 if count == 5 else 4)
  one = take(pipeline.make_train_iterator(SOURCE, config, shard_index=0, shard_count=1), 4)
  hosts = [take(pipeline.make_train_iterator(SOURCE, config, shard_index=i, shard_count=count), 4)
           for i in range(count)]
  for k in range(4):
    # Host i's row j is stream position i + count * j: interleave back to stream order.
    rows = [(i, j) for j in range(config.batch_size // count) for i in range(count)]
    for key in ("image", "targets", "video_id", "flipped"):
      merged = np.stack([hosts[i][k][key][j] for i, j in rows])
      np.testing.assert_array_equal(merged, one[k][key])


def test_batch_not_divisible_by_shards_names_both_numbers():
  with pytest.raises(ConfigError, match=r"batch_size=6.*4"):
    pipeline.make_train_iterator(SOURCE, _config(batch_size=6), shard_index=0, shard_count=4)


def test_workers_match_in_process_and_resume(take, assert_same_batches):
  # grain worker processes (mp_prefetch) give the in-process batches and a restorable state.
  plain = take(pipeline.make_train_iterator(SOURCE, _config(), shard_index=0, shard_count=1), 5)
  config = _config(**{"input.workers": 1})
  it = pipeline.make_train_iterator(SOURCE, config, shard_index=0, shard_count=1)
  assert_same_batches(take(it, 2), plain[:2])
  state = json.loads(json.dumps(it.get_state()))
  assert_same_batches(take(it, 3), plain[2:])
  resumed = pipeline.make_train_iterator(SOURCE, config, shard_index=0, shard_count=1)
  resumed.set_state(state)
  assert_same_batches(take(resumed, 3), plain[2:])
  assert isinstance(state, dict)  # a different layout from the in-process iterator's
  it.close()  # stop the worker processes now rather than at interpreter exit
  resumed.close()


@pytest.mark.parametrize("batch_size,max_examples", [(4, 0), (3, 7), (5, 0), (16, 0)])
def test_eval_batches_pad_and_cover_each_example_once(batch_size, max_examples, assert_same_batches):
  config = _config()
  batches = list(pipeline.make_eval_batches(SOURCE, config, batch_size=batch_size, max_examples=max_examples))
  n = max_examples or len(SOURCE)
  assert len(batches) == -(-n // batch_size)
  for b in batches:
    assert b["image"].shape == (batch_size, 64, 64, 3) and b[pipeline.MASK_KEY].shape == (batch_size,)
  ids = np.concatenate([b["video_id"][b[pipeline.MASK_KEY]] for b in batches])
  np.testing.assert_array_equal(ids, np.arange(n))
  last, mask = batches[-1], batches[-1][pipeline.MASK_KEY]
  if not mask.all():  # padding repeats the last real example: fields stay valid (invertible matrix)
    real = np.flatnonzero(mask)[-1]
    for k in last:
      if k != pipeline.MASK_KEY:
        np.testing.assert_array_equal(last[k][~mask], np.repeat(last[k][real:real + 1], (~mask).sum(), 0))
  assert np.all(np.abs(np.linalg.det(last["matrix"][..., :2])) > 0)
  again = list(pipeline.make_eval_batches(SOURCE, config, batch_size=batch_size, max_examples=max_examples))
  assert_same_batches(batches, again)


def test_eval_batches_default_batch_size_and_optional_shard():
  config = _config(**{"eval.batch_size": 3})
  batches = list(pipeline.make_eval_batches(SOURCE, config, shard_index=1, shard_count=2))
  assert all(len(b["video_id"]) == 3 for b in batches)
  ids = np.concatenate([b["video_id"][b["_mask"]] for b in batches])
  np.testing.assert_array_equal(ids, np.arange(1, 10, 2))


def test_box_crop_and_any_frame_size():
  config = _config(**{"input.crop": "box"})
  record = _record(0, hw=(50, 90))
  record["box"] = np.array([20, 5, 60, 45], np.float32)
  ex = _eval_example(record, config)
  expected = augment.frame_to_input_matrix((50, 90), record["box"], config.input)
  np.testing.assert_array_equal(ex["matrix"], expected)
  assert ex["image"].shape == (64, 64, 3)


def test_workers_without_parsed_absl_flags_are_refused(monkeypatch):
  from absl import flags
  monkeypatch.setattr(flags.FlagValues, "is_parsed", lambda self: False)
  with pytest.raises(ConfigError, match="config.input.workers > 0"):
    pipeline.make_train_iterator(SOURCE, _config(**{"input.workers": 1}), shard_index=0, shard_count=1)
