"""``flowpose evaluate`` scores a run's held-out split unless told otherwise (no split trap)."""

import json
import logging
import shutil

import ml_collections
import pytest

from flowpose_jax import jobs
from flowpose_jax.data.sources import overlaps_training


@pytest.fixture()
def held_out_on_validation(tiny_workdir, tmp_path):
  """A copy of the tiny run whose config names "validation" as its held-out split."""
  workdir = tmp_path / "run"
  shutil.copytree(tiny_workdir, workdir)
  config = json.loads((workdir / "config.json").read_text())
  config["dataset"]["test_split"] = "validation"
  (workdir / "config.json").write_text(json.dumps(config))
  return str(workdir)


def test_evaluate_defaults_to_the_configs_test_split(held_out_on_validation, tiny_data_dir, tmp_path):
  result, _ = jobs.evaluate_workdir(held_out_on_validation, data_dir=tiny_data_dir, out_dir=str(tmp_path / "o"))
  assert result["split"] == "validation"
  assert (tmp_path / "o" / "results_validation.json").exists()
  assert not (tmp_path / "o" / "results_test.json").exists()


def test_scoring_the_training_split_is_said(tiny_workdir, tiny_data_dir, tmp_path, caplog):
  with caplog.at_level(logging.WARNING, logger="flowpose"):
    result, _ = jobs.evaluate_workdir(tiny_workdir, split="train[:8]", data_dir=tiny_data_dir,
                                      out_dir=str(tmp_path))
  assert result["split"] == "train[:8]"
  assert "which this run trained on" in caplog.text


@pytest.mark.parametrize("name, split, expected", [
    ("realpose/buffy", "train", True),
    ("realpose/buffy", "train[:10]", True),        # a slice of the training split
    ("realpose/buffy", "validation", False),
    ("realpose/buffy", "all", False),              # not knowable from names: the builder keeps "all" out of "test"
    ("realpose/parse", "train", True),             # extra_train
    ("realpose/parse", "test", False),
    ("other", "train", False),
])
def test_overlaps_training(name, split, expected):
  cfg = ml_collections.ConfigDict({"name": "realpose/buffy", "train_split": "train",
                                   "extra_train": "realpose/parse:train"})
  assert overlaps_training(cfg, name, split) is expected


def test_disjoint_slices_of_one_split_do_not_overlap():
  cfg = ml_collections.ConfigDict({"name": "d", "train_split": "validation[:50%]", "extra_train": ""})
  assert not overlaps_training(cfg, "d", "validation[50%:]")
  assert overlaps_training(cfg, "d", "validation")
