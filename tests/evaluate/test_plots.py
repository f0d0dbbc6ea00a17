"""Accuracy plots, tables and JSON."""

import json

import cv2
import numpy as np

from flowpose_jax.evaluate import pck, plots
from flowpose_jax.joints import JOINT_NAMES

J = len(JOINT_NAMES)


def _result(offsets_px):
  """One frame per offset row; joint j is off by offsets_px[j] px in x."""
  offsets = np.asarray(offsets_px, float)
  gt = np.full((len(offsets), J, 2), 50.0)
  pred = gt.copy()
  pred[..., 0] += offsets
  acc = pck.PCKAccumulator(np.arange(11))
  acc.update(pred, gt, np.ones(gt.shape[:2], bool))
  return acc.result()


def _results():
  return {
      # head 0 px, wrists 9 px, elbows 3 and 8 px, shoulders 1 px
      "single-frame": _result([[0, 9, 9, 3, 8, 1, 1]]),
      "+fusion": _result([[0, 2, 9, 3, 3, 1, 1], [0, 2, 2, 3, 3, 1, 20]]),
  }


def test_plot_writes_readable_png(tmp_path):
  path = tmp_path / "sub" / "curves.png"
  plots.plot_accuracy_curves(_results(), str(path), threshold=6.0, title="test")
  assert path.stat().st_size > 0
  image = cv2.imread(str(path))
  assert image is not None and image.shape[0] > 100 and image.shape[1] > 100
  assert image.std() > 0  # not a blank canvas
  assert [p.name for p in path.parent.iterdir()] == ["curves.png"]  # no temp files left


def test_table_has_names_and_right_numbers():
  table = plots.format_table(_results(), 6)
  lines = table.splitlines()
  assert len(lines) == 4
  header = [c.strip() for c in lines[0].strip("|").split("|")]
  for name in JOINT_NAMES + ("wrists", "elbows", "shoulders", "average"):
    assert name in header
  rows = {c[0]: dict(zip(header[1:], c[1:]))
          for c in ([x.strip() for x in line.strip("|").split("|")] for line in lines[2:])}
  single, fusion = rows["single-frame"], rows["+fusion"]
  assert single["head"] == "100.0" and single["right_wrist"] == "0.0"
  assert single["elbows"] == "50.0" and single["average"] == f"{100 * 4 / 7:.1f}"
  assert fusion["wrists"] == "75.0"       # 3 of 4 wrists within 6 px
  assert fusion["left_shoulder"] == "50.0" and fusion["shoulders"] == "75.0"
  assert fusion["average"] == f"{100 * 12 / 14:.1f}"


def test_table_prints_nan_as_dash():
  acc = pck.PCKAccumulator([6.0])
  gt = np.zeros((1, J, 2))
  visible = np.ones((1, J), bool)
  visible[0, 0] = False
  acc.update(gt, gt, visible)
  row = plots.format_table({"m": acc.result()}, 6).splitlines()[2]
  assert row.split("|")[2].strip() == "-"


def test_results_json_is_strict_and_complete(tmp_path):
  results = _results()
  results["single-frame"]["predictions"] = np.zeros((1, J, 2))  # not serialised
  path = tmp_path / "results.json"
  plots.write_results_json(str(path), results, {"config": "tiny"}, d=6)
  doc = json.loads(path.read_text(), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
  assert doc["meta"] == {"config": "tiny"} and doc["threshold"] == 6
  single = doc["methods"]["single-frame"]
  assert single["thresholds"] == list(range(11)) and single["counts"] == [1] * J
  assert len(single["per_joint"]) == 11 and len(single["per_joint"][0]) == J
  assert single["at_threshold"]["elbows"] == 0.5
  assert "predictions" not in single
  assert "right_wrist" in doc["table"]


def test_pooling_weights_plot(tmp_path):
  import cv2
  from flowpose_jax.evaluate import plots as plots_lib
  kernel = np.full((7, 7), 1 / 7)
  kernel[3] += 0.05
  path = tmp_path / "w.png"
  plots_lib.plot_pooling_weights(kernel, str(path), title="weights")
  img = cv2.imread(str(path))
  assert img is not None and img.shape[1] > img.shape[0]


def test_tables_name_the_protocols_unit(tmp_path):
  """A normalised protocol's distances are % of the torso, and its tables and JSON say so, not px."""
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  from flowpose_jax.evaluate import protocols  # pylint: disable=import-outside-toplevel
  results = {"m": _result([[0, 9, 9, 3, 8, 1, 1]])}
  assert plots.format_table(results, 6).startswith("| method (d = 6 px) |")
  assert plots.format_table(results, 6, "% torso").startswith("| method (d = 6 % torso) |")
  lsp = protocols.for_dataset("lsp/extended", 20.0)
  assert lsp.short_unit == "% torso" and protocols.for_dataset("realpose/buffy", 20.0).short_unit == "px"
  acc = pck.PCKAccumulator(np.arange(21))
  acc.update(np.full((1, J, 2), 50.0), np.full((1, J, 2), 50.0), np.ones((1, J), bool))
  table = jobs.write_results(str(tmp_path), "val", {"m": acc.result()}, lsp,
                             {"dataset": "lsp/extended", "num_examples": 1, "crop": "joints"})
  assert "| method (d = 20 % torso) |" in table and "| method (d = 10 % torso) |" in table and " px)" not in table
  doc = json.loads((tmp_path / "results_val.json").read_text())
  assert doc["table"].startswith("| method (d = 20 % torso) |")
