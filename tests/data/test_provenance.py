"""A dataset built from a user's files never silently outlives them: `flowpose data build` rebuilds when
they changed, and a job refuses a stale build naming the file (coco_keypoints, realpose, bbc_pose, lsp)."""

import json
import logging
import os
import shutil

import pytest
import tensorflow_datasets as tfds

from flowpose_jax import datasets, provenance
from flowpose_jax.errors import InputError
from tests.data.test_bbc_pose import write_fixture
from tests.data.test_coco_keypoints import write_coco
from tests.data.test_lsp import pose_1based, write_joints_mat, write_lsp
from tests.data.test_realpose import _write_buffy


def _count(name, split, data_dir):
  return len(tfds.data_source(name, split=split, data_dir=str(data_dir)))


def test_coco_keypoints_changed_labels_are_refused_then_rebuilt(tmp_path, caplog):
  manual, data_dir = tmp_path / "coco", tmp_path / "tfds"
  path = write_coco(manual)
  datasets.build_dataset("coco_keypoints", str(data_dir), str(manual))
  before = _count("coco_keypoints", "val2017", data_dir)
  datasets.ensure_dataset("coco_keypoints", str(data_dir))  # unchanged: accepted
  data = json.loads(path.read_text())
  data["annotations"] = data["annotations"][1:]  # the user drops a person
  path.write_text(json.dumps(data))
  with pytest.raises(InputError, match=rf"is stale: {path} changed since it was built \(1 files differ\); "
                                       rf"rebuild it: `flowpose data build coco_keypoints --manual_dir {manual} "):
    datasets.ensure_dataset("coco_keypoints", str(data_dir))
  with caplog.at_level(logging.WARNING, logger="flowpose"):
    datasets.build_dataset("coco_keypoints", str(data_dir), str(manual))  # the same command as before
  assert "changed since its build" in caplog.text
  assert _count("coco_keypoints", "val2017", data_dir) == before - 1
  datasets.ensure_dataset("coco_keypoints", str(data_dir))


def _refused(name, data_dir, path, what="changed"):
  """``ensure_dataset`` refuses ``name`` naming ``path`` as ``what`` since the build."""
  with pytest.raises(InputError, match=rf"is stale: {path} {what} since it was built"):
    datasets.ensure_dataset(name, str(data_dir))


def test_an_image_added_to_the_source_is_named(tmp_path):
  manual, data_dir = tmp_path / "coco", tmp_path / "tfds"
  write_coco(manual)
  datasets.build_dataset("coco_keypoints", str(data_dir), str(manual))
  extra = manual / "val2017" / "new.jpg"
  extra.write_bytes(b"x")
  _refused("coco_keypoints", data_dir, extra, "was added")


def test_realpose_tracks_its_sibling_folder_too(tmp_path):
  folder, data_dir = _write_buffy(tmp_path), tmp_path / "tfds"
  datasets.build_dataset("realpose/buffy", str(data_dir), str(folder))
  sibling = folder.parent / "realpose_ep3" / "annotations.json"
  sibling.write_text(sibling.read_text() + "\n")
  _refused("realpose/buffy", data_dir, sibling)
  datasets.build_dataset("realpose/buffy", str(data_dir))  # no --manual_dir: the recorded folder
  datasets.ensure_dataset("realpose/buffy", str(data_dir))


def test_bbc_pose_changed_frame_is_refused(tmp_path):
  manual, data_dir = tmp_path / "bbc", tmp_path / "tfds"
  write_fixture(manual)
  datasets.build_dataset("bbc_pose/original", str(data_dir), str(manual))
  frame = manual / "video_01" / "5.jpg"
  frame.write_bytes(frame.read_bytes()[:-10])
  _refused("bbc_pose/original", data_dir, frame)


def test_lsp_changed_joints_mat_is_refused(tmp_path):
  manual, data_dir = tmp_path / "lspet_dataset", tmp_path / "tfds"
  write_lsp(manual, "extended", 2)
  datasets.build_dataset("lsp/extended", str(data_dir), str(manual))
  datasets.ensure_dataset("lsp/extended", str(data_dir))
  path = write_joints_mat(manual, "extended", 2, xy=pose_1based(2) + 1)  # relabelled: same size, new values
  os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))  # coarse clocks
  _refused("lsp/extended", data_dir, path)


def test_a_build_whose_source_is_gone_stays_usable(tmp_path):
  """Built on one machine, copied to a cluster without the source files: nothing to compare against."""
  manual, data_dir = tmp_path / "coco", tmp_path / "tfds"
  write_coco(manual)
  datasets.build_dataset("coco_keypoints", str(data_dir), str(manual))
  shutil.rmtree(manual)
  datasets.ensure_dataset("coco_keypoints", str(data_dir))
  doc = provenance.recorded(str(next(p for p in data_dir.rglob(provenance.SOURCE_FILE)).parent))
  assert doc["folders"] == [str(manual)] and os.path.basename(next(iter(doc["files"]))) != ""


def test_a_copy_that_moves_only_the_times_is_not_stale_but_new_bytes_are(tmp_path):
  """A fresh copy of the same files (new modification times, as after a re-checkout or a restore) keeps
  the build; the same size with other bytes is still refused."""
  manual, data_dir = tmp_path / "coco", tmp_path / "tfds"
  path = write_coco(manual)
  datasets.build_dataset("coco_keypoints", str(data_dir), str(manual))
  for f in manual.rglob("*"):
    if f.is_file():
      os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
  datasets.ensure_dataset("coco_keypoints", str(data_dir))  # accepted: the bytes are the same
  data = path.read_bytes()
  path.write_bytes(data.replace(b'"id": 1', b'"id": 7', 1))  # same size, other bytes
  assert len(path.read_bytes()) == len(data) and path.read_bytes() != data
  _refused("coco_keypoints", data_dir, path)
