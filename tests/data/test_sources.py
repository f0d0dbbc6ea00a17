import re

import numpy as np
import pytest

from flowpose_jax.data import sources
from flowpose_jax.errors import ConfigError, InputError


def test_missing_dataset_names_the_build_command(tmp_path):
  with pytest.raises(InputError, match=r"flowpose data build synthetic_signers/tiny --data_dir"):
    sources.load_source("synthetic_signers/tiny", "train", str(tmp_path))
  assert not sources.is_prepared("synthetic_signers/tiny", str(tmp_path))


def test_built_dataset_is_readable(tiny_data_dir):
  assert sources.is_prepared("synthetic_signers/tiny", tiny_data_dir)
  src = sources.load_source("synthetic_signers/tiny", "validation", tiny_data_dir)
  rec = src[0]
  assert rec["image"].dtype.name == "uint8" and rec["joints"].shape == (7, 2)


def test_a_missing_record_file_is_named_with_the_rebuild_command(tiny_data_dir, tmp_path):
  import shutil  # pylint: disable=import-outside-toplevel
  data_dir = tmp_path / "tfds"
  shutil.copytree(tiny_data_dir, data_dir)
  shard = next(data_dir.rglob("synthetic_signers-test.array_record-*"))
  shard.unlink()
  with pytest.raises(InputError, match=rf"split 'test\[:8\]': {shard} is missing \(1 of 1 files\); rebuild it"):
    sources.load_source("synthetic_signers/tiny", "test[:8]", str(data_dir))
  sources.load_source("synthetic_signers/tiny", "train", str(data_dir))  # the other splits still open


def test_id_records_match_full_records(tiny_data_dir):
  src = sources.load_source("synthetic_signers/tiny", "validation", tiny_data_dir)
  keys = ("video_id", "frame_index", "annotated")  # tiny has no "annotated": left out
  light = list(sources.id_records(src, keys))
  assert len(light) == len(src) and all(set(r) == {"video_id", "frame_index"} for r in light)
  assert [(r["video_id"], r["frame_index"]) for r in light] == [
      (src[i]["video_id"], src[i]["frame_index"]) for i in range(len(src))]
  assert list(sources.id_records([{"video_id": 3, "image": None}], keys)) == [{"video_id": 3}]


def _two_episodes(per_episode: int = 100) -> list[dict]:
  return [{"video_id": v, "frame_index": i} for v in (0, 1) for i in range(per_episode)]


def test_train_subset_is_seeded_nested_and_spans_the_episodes(monkeypatch):
  import ml_collections
  from flowpose_jax.configs import flow as flow_config
  from flowpose_jax.data import windows
  from flowpose_jax.errors import ConfigError
  extra = [{"video_id": 9, "frame_index": 0}]
  monkeypatch.setattr(sources, "load_source",
                      lambda name, split, data_dir: _two_episodes() if name == "main" else extra)

  def ids(size, seed, extra_train=""):
    cfg = ml_collections.ConfigDict({"name": "main", "train_split": "train", "data_dir": "",
                                     "extra_train": extra_train, "train_subset": size, "train_subset_seed": seed})
    return [(r["video_id"], r["frame_index"]) for r in sources.load_train_source(cfg)]

  small, large = ids(50, 3), ids(100, 3)
  assert len(small) == 50 and len(large) == 100 and set(small) < set(large)  # nested
  assert ids(50, 3) == small and ids(50, 4) != small  # seeded
  assert {v for v, _ in small} == {0, 1}  # the first 50 records would all be episode 0
  assert small == sorted(small)  # record order kept
  assert len(ids(0, 3)) == 200  # 0: the whole split
  assert ids(50, 3, "noisy:train") == small + [(9, 0)]  # the extra records are all kept
  with pytest.raises(ConfigError, match="train_subset=201: the training split has 200 records"):
    ids(201, 3)
  subset = sources.SubsetSource(_two_episodes(), sources.subset_indices(200, 50, 3))
  assert [r["video_id"] for r in sources.id_records(subset, ("video_id",))] == [v for v, _ in small]
  with pytest.raises(ConfigError, match="train_subset draws records apart from the neighbours"):
    windows.WindowExamples(flow_config.get_config(), subset)


def test_a_job_on_an_unbuilt_user_dataset_names_the_build_command(tmp_path):
  from flowpose_jax import datasets  # pylint: disable=import-outside-toplevel
  with pytest.raises(InputError, match=r"build it from your files first, `flowpose data build coco_keypoints "
                                       r"--manual_dir YOUR_FILES --data_dir \S+`"):
    datasets.ensure_dataset("coco_keypoints", str(tmp_path))


def test_train_shares_repeat_the_smaller_sets_and_cut_none(monkeypatch):
  import ml_collections
  from flowpose_jax.errors import ConfigError
  sets = {"main": [{"set": "main", "i": i} for i in range(10)],
          "a": [{"set": "a", "i": i} for i in range(100)], "b": [{"set": "b", "i": i} for i in range(30)]}
  monkeypatch.setattr(sources, "load_source", lambda name, split, data_dir: sets[name])

  def records(shares, extra="a:train,b:train"):
    cfg = ml_collections.ConfigDict({"name": "main", "train_split": "train", "data_dir": "",
                                     "extra_train": extra, "train_shares": shares})
    return list(sources.load_train_source(cfg))

  plain = records("")
  assert [len([r for r in plain if r["set"] == k]) for k in ("main", "a", "b")] == [10, 100, 30]
  mixed = records("2,1,1")  # main half the epoch: its 10 records 20 times each; "a" whole; "b" repeated
  counts = {k: len([r for r in mixed if r["set"] == k]) for k in ("main", "a", "b")}
  assert counts == {"main": 200, "a": 100, "b": 100}
  assert {r["i"] for r in mixed if r["set"] == "a"} == set(range(100))  # none cut
  main = [r["i"] for r in mixed if r["set"] == "main"]
  assert all(main.count(i) == len(main) // 10 for i in range(10))  # repeated evenly
  assert records("1", extra="") == sets["main"]
  with pytest.raises(ConfigError, match="train_shares='1,1': give 3 positive numbers"):
    records("1,1")
  with pytest.raises(ConfigError, match="give 3 positive numbers"):
    records("1,0,1")
  assert sources.overlaps_training(ml_collections.ConfigDict(
      {"name": "main", "train_split": "train", "extra_train": "a:train[:90],b:train"}), "b", "train")


def _three_sets(monkeypatch) -> dict:
  """load_source faked: "main" 10 records, "a" 100, "b" 30, each record {"set", "i"}."""
  sets = {"main": [{"set": "main", "i": i} for i in range(10)],
          "a": [{"set": "a", "i": i} for i in range(100)], "b": [{"set": "b", "i": i} for i in range(30)]}
  monkeypatch.setattr(sources, "load_source", lambda name, split, data_dir: sets[name])
  return sets


def _dataset(**fields):
  import ml_collections
  return ml_collections.ConfigDict({"name": "main", "train_split": "train", "data_dir": "",
                                    "extra_train": "a:train,b:train[:30]", "train_shares": "", **fields})


def test_subset_of_draws_records_of_that_extra_set_only_nested_and_seeded(monkeypatch):
  sets = _three_sets(monkeypatch)

  def drawn(size, seed, of="b:train[:30]"):
    records = list(sources.load_train_source(_dataset(subset_of=of, train_subset=size, train_subset_seed=seed)))
    assert [r for r in records if r["set"] != "b"] == sets["main"] + sets["a"]  # the other sets whole
    return [r["i"] for r in records if r["set"] == "b"]

  small, large = drawn(5, 3), drawn(12, 3)
  assert len(small) == 5 and len(large) == 12 and set(small) < set(large)  # nested
  assert small == sorted(small) and small == list(sources.subset_indices(30, 5, 3))  # seeded, order kept
  assert drawn(5, 3) == small and drawn(5, 4) != small
  assert drawn(30, 3) == list(range(30))
  assert drawn(7, 3, of=" b:train[:30] ") == drawn(7, 3)  # spaces around an entry, as extra_train allows
  with pytest.raises(ConfigError, match=r"train_subset=31: config.dataset.subset_of='b:train\[:30\]' has 30 "
                                        r"records; give 1..30, or 0 for none of it"):
    drawn(31, 3)
  # subset_of "" (or absent): train_subset draws from train_split, as before.
  records = list(sources.load_train_source(_dataset(subset_of="", train_subset=4, train_subset_seed=3)))
  assert [len([r for r in records if r["set"] == k]) for k in ("main", "a", "b")] == [4, 100, 30]


def test_subset_of_with_no_records_leaves_the_set_and_its_share_out(monkeypatch):
  _three_sets(monkeypatch)

  def counts(**fields):
    records = list(sources.load_train_source(_dataset(**fields)))
    return {k: len([r for r in records if r["set"] == k]) for k in ("main", "a", "b")}

  assert counts(subset_of="b:train[:30]", train_subset=0) == {"main": 10, "a": 100, "b": 0}
  # "2,1,1": b's share goes with it, main and "a" share the epoch 2:1 (main repeats to 200).
  assert counts(subset_of="b:train[:30]", train_subset=0, train_shares="2,1,1") == {"main": 200, "a": 100, "b": 0}
  assert counts(subset_of="a:train", train_subset=0, train_shares="2,1,1") == {"main": 60, "a": 0, "b": 30}
  assert counts(subset_of="b:train[:30]", train_subset=10, train_shares="2,1,1") == {"main": 200, "a": 100, "b": 100}
  assert counts(subset_of="", train_subset=0) == {"main": 10, "a": 100, "b": 30}  # "" and 0: everything
  cfg = _dataset(subset_of="b:train[:30]", train_subset=0, train_shares="2,1,1")
  np.testing.assert_allclose(sources.train_shares(cfg, [10, 100]), [2 / 3, 1 / 3])
  assert sources.training_sets(cfg) == [("main", "train"), ("a", "train")]
  assert not sources.overlaps_training(cfg, "b", "train[:30]")  # never trained on
  assert sources.overlaps_training(_dataset(subset_of="b:train[:30]", train_subset=5), "b", "train[:30]")
  assert sources.overlaps_training(cfg, "main", "train") and sources.overlaps_training(cfg, "a", "train")
  with pytest.raises(ConfigError, match="train_shares='1,1': give 3 positive numbers"):
    counts(subset_of="b:train[:30]", train_subset=0, train_shares="1,1")  # still one per configured set


def test_subset_of_must_name_an_extra_train_entry_as_written(monkeypatch):
  _three_sets(monkeypatch)
  for bad in ("c:train", "b:train", "main:train"):  # unknown; another slice than written; the main split
    with pytest.raises(ConfigError, match=rf"config.dataset.subset_of='{re.escape(bad)}' is not an entry of "
                                          r"config.dataset.extra_train='a:train,b:train\[:30\]': give one of its "
                                          r"NAME:SPLIT entries exactly as written there"):
      sources.load_train_source(_dataset(subset_of=bad, train_subset=5))
  with pytest.raises(ConfigError, match="subset_of='a:train' is not an entry"):
    sources.overlaps_training(_dataset(subset_of="a:train", extra_train="", train_subset=0), "main", "train")
