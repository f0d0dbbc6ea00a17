"""flowpose_jax.data.torso: which way a labelled torso faces, and the training policy for reversed ones."""

import ml_collections
import numpy as np
import pytest

from flowpose_jax import joints as joints_lib
from flowpose_jax.data import sources, torso
from flowpose_jax.errors import ConfigError

L = joints_lib.LSP_JOINT_NAMES


def front_person(x0: float = 100.0, y0: float = 100.0) -> np.ndarray:
  """[14, 2] a camera-facing upright person, LSP order: the person's right on the image's left."""
  xy = {"right_ankle": (-20, 200), "right_knee": (-20, 150), "right_hip": (-20, 100),
        "left_hip": (20, 100), "left_knee": (20, 150), "left_ankle": (20, 200),
        "right_wrist": (-60, 60), "right_elbow": (-50, 20), "right_shoulder": (-30, 0),
        "left_shoulder": (30, 0), "left_elbow": (50, 20), "left_wrist": (60, 60),
        "neck": (0, -5), "head_top": (0, -45)}
  return np.array([xy[n] for n in L], np.float64) + (x0, y0)


def mirrored(person: np.ndarray) -> np.ndarray:
  """The same joints with every label on the other side: a back view, or all labels swapped."""
  return person[list(torso.LSP_FLIP_INDEX)]


def record(full: np.ndarray, present=None) -> dict:
  present = np.ones(14, bool) if present is None else present
  head = (full[L.index("neck")] + full[L.index("head_top")]) / 2
  ours = np.concatenate([head[None], full[[L.index(n) for n in joints_lib.JOINT_NAMES[1:]]]]).astype(np.float32)
  return {"joints": ours, "visible": np.ones(7, bool), "joints_full": full.astype(np.float32),
          "visible_full": present}


def rotate(xy: np.ndarray, degrees: float) -> np.ndarray:
  a = np.radians(degrees)
  m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
  centre = xy.mean(0)
  return (xy - centre) @ m.T + centre


@pytest.mark.parametrize("degrees", [0, 90, 180, 270, 33])
def test_a_front_view_is_front_and_its_mirror_reversed_at_any_rotation(degrees):
  front = rotate(front_person(), degrees)
  o = torso.torso_orientation(front, np.ones(14, bool))
  assert o["usable"] and o["shoulders"] > 0.3 and o["hips"] > 0.3
  assert not torso.reversed_torso(front, np.ones(14, bool))
  assert torso.reversed_torso(mirrored(front), np.ones(14, bool))
  np.testing.assert_allclose(o["up"], np.cos(np.radians(degrees)), atol=1e-9)  # rotations are clockwise


def test_side_views_small_torsos_missing_hips_and_disagreeing_pairs_are_not_judged():
  back = mirrored(front_person())
  side = back.copy()
  side[[L.index("right_shoulder"), L.index("left_shoulder")], 0] = back[L.index("neck"), 0] + np.array([-5, 5])
  assert not torso.reversed_torso(side, np.ones(14, bool))  # shoulders 10 px apart over a 100 px torso: < 0.3
  tiny = (back - back.mean(0)) * 0.05 + back.mean(0)  # a 5 px torso
  assert not torso.reversed_torso(tiny, np.ones(14, bool))
  present = np.ones(14, bool)
  present[L.index("left_hip")] = False
  assert not torso.reversed_torso(back, present)
  twisted = back.copy()
  twisted[[L.index("right_hip"), L.index("left_hip")]] = front_person()[[L.index("right_hip"), L.index("left_hip")]]
  assert not torso.reversed_torso(twisted, np.ones(14, bool))  # one pair each way: not both reversed
  stacked = np.stack([front_person(), back, tiny])  # any leading shape
  assert torso.reversed_torso(stacked, np.ones((3, 14), bool)).tolist() == [False, True, False]


def test_policies_keep_swap_and_mask_a_reversed_record_and_leave_a_front_one():
  front, back = record(front_person()), record(mirrored(front_person()))
  for policy in torso.POLICIES:
    assert torso.apply_policy(front, policy) is front
  assert torso.apply_policy(back, "keep") is back
  swapped = torso.apply_policy(back, "swap")
  np.testing.assert_array_equal(swapped["joints"], front["joints"])  # the labels a front view would have
  np.testing.assert_array_equal(swapped["joints_full"], front["joints_full"])
  assert not torso.reversed_torso(swapped["joints_full"], swapped["visible_full"])
  masked = torso.apply_policy(back, "mask")
  assert masked["visible"].tolist() == [True] + [False] * 6  # the head still trains
  assert np.isnan(masked["joints"][1:]).all() and np.array_equal(masked["joints"][0], back["joints"][0])
  assert back["visible"].all() and not np.isnan(back["joints"]).any()  # the source record is untouched


def _lsp_records():
  people = [front_person(), mirrored(front_person()), front_person(50, 60), mirrored(front_person(80, 90))]
  return [dict(record(p), i=i) for i, p in enumerate(people)]


def test_load_train_source_applies_the_policy_to_lsp_sets_only(monkeypatch):
  lsp_records = _lsp_records()
  other = [dict(record(mirrored(front_person())), i=9)]  # a reversed torso outside an LSP set: never changed
  sets = {"lsp/extended": lsp_records, "main": other}
  monkeypatch.setattr(sources, "load_source", lambda name, split, data_dir: sets[name])

  def train(policy, extra="lsp/extended:train"):
    cfg = ml_collections.ConfigDict({"name": "main", "train_split": "train", "data_dir": "",
                                     "extra_train": extra, "train_shares": "", "reversed_torsos": policy})
    return list(sources.load_train_source(cfg))

  assert [r["visible"].sum() for r in train("keep")] == [7, 7, 7, 7, 7]
  assert [r["visible"].sum() for r in train("mask")] == [7, 7, 1, 7, 1]  # main first, then lsp's 2 reversed
  swapped = train("swap")
  np.testing.assert_array_equal(swapped[0]["joints"], other[0]["joints"])
  np.testing.assert_array_equal(swapped[2]["joints"], record(front_person())["joints"])
  with pytest.raises(ConfigError, match=r"reversed_torsos='flip': give one of keep, swap, mask"):
    train("flip")
  with pytest.raises(ConfigError, match=r"reversed_torsos='mask' judges torsos from LSP's 14 joints, but no "
                                        r"training set is an LSP set \(main\)"):
    train("mask", extra="")
  assert len(train("keep", extra="")) == 1  # "keep" needs no LSP set


def test_the_config_default_keeps_labels_and_old_runs_resume():
  from flowpose_jax.configs import common
  from flowpose_jax.train import loop
  config = common.base_config()
  assert config.dataset.reversed_torsos == "keep"
  old = config.to_dict()
  del old["dataset"]["reversed_torsos"]  # a run started before the field existed
  assert loop.resume_conflicts(old, config.to_dict()) == []
  config.dataset.reversed_torsos = "mask"
  assert loop.resume_conflicts(old, config.to_dict()) == ["dataset.reversed_torsos: '<unset>' -> 'mask'"]
