import pytest

from flowpose_jax.data import sources
from flowpose_jax.errors import InputError


def test_missing_dataset_names_the_build_command(tmp_path):
  with pytest.raises(InputError, match=r"flowpose data build synthetic_signers/tiny --data_dir"):
    sources.load_source("synthetic_signers/tiny", "train", str(tmp_path))
  assert not sources.is_prepared("synthetic_signers/tiny", str(tmp_path))


def test_built_dataset_is_readable(tiny_data_dir):
  assert sources.is_prepared("synthetic_signers/tiny", tiny_data_dir)
  src = sources.load_source("synthetic_signers/tiny", "validation", tiny_data_dir)
  rec = src[0]
  assert rec["image"].dtype.name == "uint8" and rec["joints"].shape == (7, 2)


def test_id_records_match_full_records(tiny_data_dir):
  src = sources.load_source("synthetic_signers/tiny", "validation", tiny_data_dir)
  keys = ("video_id", "frame_index", "annotated")  # tiny has no "annotated": left out
  light = list(sources.id_records(src, keys))
  assert len(light) == len(src) and all(set(r) == {"video_id", "frame_index"} for r in light)
  assert [(r["video_id"], r["frame_index"]) for r in light] == [
      (src[i]["video_id"], src[i]["frame_index"]) for i in range(len(src))]
  assert list(sources.id_records([{"video_id": 3, "image": None}], keys)) == [{"video_id": 3}]
