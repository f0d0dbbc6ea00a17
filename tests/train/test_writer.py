"""MetricWriter: metrics.jsonl keeps metric names, TensorBoard gets legal tags."""

import glob
import logging
import struct

import pytest

from flowpose_jax.train import writer as writer_lib


@pytest.mark.parametrize("name, tag", [
    ("val/acc_20%/head", "val/acc_20pct/head"),
    ("train/loss", "train/loss"),
    ("/val/acc 10%", "val/acc_10pct"),
    ("a:b", "a_b"),
])
def test_tensorboard_tag(name, tag):
  assert writer_lib.tensorboard_tag(name) == tag


def _scalar_tags(events_file: str) -> list[str]:
  """The scalar tags of a TensorBoard event file (TFRecord framing: length, crc, data, crc)."""
  from tensorboardX.proto import event_pb2  # pylint: disable=import-outside-toplevel
  data, tags, at = open(events_file, "rb").read(), [], 0
  while at < len(data):
    (length,) = struct.unpack("<Q", data[at:at + 8])
    event = event_pb2.Event.FromString(data[at + 12:at + 12 + length])
    tags += [v.tag for v in event.summary.value]
    at += 16 + length
  return tags


def test_percent_tags_are_written_without_tensorboardx_renaming(tmp_path, caplog):
  with caplog.at_level(logging.INFO):
    w = writer_lib.MetricWriter(str(tmp_path))
    w.scalars(5, {"val/acc_20%/head": 0.5, "train/loss": 0.1})
    w.close()
  assert not [r for r in caplog.records if "illegal" in r.getMessage()]
  assert writer_lib.read_rows(str(tmp_path)) == [{"step": 5, "val/acc_20%/head": 0.5, "train/loss": 0.1}]
  (events,) = glob.glob(str(tmp_path / "tensorboard" / "events.*"))
  assert sorted(_scalar_tags(events)) == ["train/loss", "val/acc_20pct/head"]
