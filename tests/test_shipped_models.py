"""Shipped models (``flowpose_jax/pretrained``, ``flowpose publish``): every shipped model loads, matches its
recorded digest, exports to ONNX and gives the joints its card records; publish round-trips a tiny workdir,
and names resolve for load, predict, evaluate, export, inspect and ``config.init_from``."""

import json
import os
import shutil

import numpy as np
import pytest

from flowpose_jax import cli, fileio, inference, publish, workdir as workdir_lib
from flowpose_jax.errors import FlowposeError, InputError

SHARED_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
SHIPPED = workdir_lib.shipped_names()
# Recorded joints are checked to this many frame px: the same code on another CPU may round the
# heatmap maths differently (XLA's CPU kernels), which moves a sub-pixel peak estimate a little.
JOINT_TOLERANCE_PX = 1.0


def _card(name):
  return workdir_lib.read_card(os.path.join(workdir_lib.SHIPPED_ROOT, name))


def test_the_package_ships_a_model_within_the_size_limit():
  assert SHIPPED, "flowpose_jax/pretrained holds no model (flowpose publish --workdir W --name NAME)"
  for name in SHIPPED:
    size = os.path.getsize(os.path.join(workdir_lib.SHIPPED_ROOT, name, workdir_lib.WEIGHTS_FILE))
    assert size <= publish.SIZE_LIMIT_BYTES and _card(name)["weights_bytes"] == size


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_by_name_with_its_recorded_digest(name):
  predictor = inference.load(name)
  assert workdir_lib.params_digest(predictor.params) == _card(name)[workdir_lib.DIGEST_KEY]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_gives_its_recorded_joints_on_the_rendered_frame(name):
  card = _card(name)
  assert card["reference"]["render"] == publish.REFERENCE_RENDER
  got = publish.reference_joints(inference.load(name), publish.reference_frame())
  joints = np.asarray(got["joints"])
  assert np.all(np.isfinite(joints)) and joints.shape == (7, 2)
  assert np.all((joints >= 0) & (joints <= publish.REFERENCE_RENDER["width"] - 1))
  np.testing.assert_allclose(joints, card["reference"]["joints"], atol=JOINT_TOLERANCE_PX)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_gives_its_recorded_joints_on_a_real_frame(name):
  card = _card(name)
  if "reference_real" not in card:
    pytest.skip(f"{name}'s card records no real frame")
  ref = card["reference_real"]
  found = [os.path.join(SHARED_DATA, d, ref["file"]) for d in ("realpose", "realpose_ep3")
           if os.path.isfile(os.path.join(SHARED_DATA, d, ref["file"]))]
  if not found:
    pytest.skip(f"{ref['file']} is not here (../shared/data/realpose: the developers' real frames)")
  assert fileio.file_sha256(found[0]) == ref["sha256"]
  from flowpose_jax import media
  got = publish.reference_joints(inference.load(name), media.read_image(found[0]))
  np.testing.assert_allclose(got["joints"], ref["joints"], atol=JOINT_TOLERANCE_PX)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_exports_to_onnx(name, tmp_path):
  pytest.importorskip("onnxruntime")
  pytest.importorskip("jax2onnx")
  from flowpose_jax import export
  paths = export.export_workdir(name, "onnx", str(tmp_path))
  assert any(p.endswith(".onnx") and os.path.getsize(p) > 10_000 for p in paths)


@pytest.fixture(scope="module")
def published(tiny_workdir, tmp_path_factory):
  root = str(tmp_path_factory.mktemp("pretrained"))
  folder = publish.publish(tiny_workdir, "tiny_model", root, command="flowpose train --config configs/tiny.py")
  return tiny_workdir, folder


def test_publish_round_trips_the_params_and_records_the_card(published):
  workdir, folder = published
  assert sorted(os.listdir(folder)) == ["README.md", "config.json", "model_card.json", "weights.safetensors"]
  trained, shipped = workdir_lib.load(workdir), workdir_lib.load(folder)
  assert workdir_lib.params_digest(shipped.params) == workdir_lib.params_digest(trained.params)
  card = workdir_lib.read_card(folder)
  assert card["step"] == trained.step == shipped.step
  assert card["data"][0]["name"] == "synthetic_signers/tiny" and "no terms" in card["data"][0]["terms"]
  assert "flowpose train --config configs/tiny.py" in (card["command"], )
  readme = open(os.path.join(folder, "README.md"), encoding="utf-8").read()
  assert "flowpose predict --model tiny_model" in readme and card[workdir_lib.DIGEST_KEY] in readme
  got = publish.reference_joints(inference.load(folder), publish.reference_frame())
  np.testing.assert_allclose(got["joints"], card["reference"]["joints"], atol=1e-3)


def test_a_name_resolves_to_the_shipped_folder_and_a_path_wins(published, monkeypatch, tmp_path):
  _, folder = published
  monkeypatch.setattr(workdir_lib, "SHIPPED_ROOT", os.path.dirname(folder))
  monkeypatch.chdir(tmp_path)
  assert workdir_lib.shipped_names() == ["tiny_model"]
  assert workdir_lib.resolve("tiny_model") == folder
  os.mkdir(tmp_path / "tiny_model")  # a local folder of that name is what the user means
  assert workdir_lib.resolve("tiny_model") == "tiny_model"
  assert workdir_lib.resolve("nothing_here") == "nothing_here"


def test_tampered_weights_or_a_taken_name_are_refused(published, tmp_path):
  workdir, folder = published
  copy = tmp_path / "copy"
  shutil.copytree(folder, copy)
  card = json.loads((copy / workdir_lib.CARD_FILE).read_text())
  card[workdir_lib.DIGEST_KEY] = "0" * 64
  (copy / workdir_lib.CARD_FILE).write_text(json.dumps(card))
  with pytest.raises(workdir_lib.UnreadableCheckpoint, match="differ from the digest in model_card.json"):
    workdir_lib.load(str(copy))
  with pytest.raises(InputError, match="exists: pass --overwrite"):
    publish.publish(workdir, "tiny_model", os.path.dirname(folder))
  with pytest.raises(InputError, match="model name '../x'"):
    publish.publish(workdir, "../x", str(tmp_path))
  assert not [n for n in os.listdir(os.path.dirname(folder)) if n.startswith(".")]  # no temp folder left


def test_cli_predict_evaluate_inspect_with_model(published, monkeypatch, tmp_path, capsys, tiny_data_dir):
  import cv2
  _, folder = published
  monkeypatch.setattr(workdir_lib, "SHIPPED_ROOT", os.path.dirname(folder))
  image = tmp_path / "a.jpg"
  cv2.imwrite(str(image), publish.reference_frame()[..., ::-1])
  with pytest.raises(SystemExit) as e:
    cli.main(["predict", "--model", "tiny_model", str(image), "--out", str(tmp_path / "out")])
  assert e.value.code == 0 and (tmp_path / "out" / "a.json").exists()
  with pytest.raises(SystemExit) as e:
    cli.main(["inspect", "--model", "tiny_model"])
  assert e.value.code == 0 and workdir_lib.read_card(folder)[workdir_lib.DIGEST_KEY] in capsys.readouterr().out
  for argv, message in ((["predict", "--model", "nope", str(image), "--out", str(tmp_path / "o2")],
                         "--model nope: no shipped model of that name or folder (shipped: tiny_model)"),
                        (["evaluate", "--model", "tiny_model"], "give --out FOLDER"),
                        (["inspect", "--model", "tiny_model", "--step", "3"], "--step applies to a --workdir")):
    with pytest.raises(SystemExit) as e:
      cli.main(argv)
    assert e.value.code != 0 and message in capsys.readouterr().err
  with pytest.raises(SystemExit) as e:
    cli.main(["evaluate", "--model", "tiny_model", "--split", "test", "--data_dir", tiny_data_dir,
              "--out", str(tmp_path / "eval")])
  assert e.value.code == 0 and (tmp_path / "eval" / "results_test.json").exists()


def test_init_from_a_shipped_model_starts_from_its_weights(published, tiny_config, tmp_path):
  from flowpose_jax.train import state as state_lib
  workdir, folder = published
  params = workdir_lib.make_model(tiny_config)[1]
  loaded = state_lib.load_pretrained(params, folder)
  assert workdir_lib.params_digest(loaded) == workdir_lib.params_digest(workdir_lib.load(workdir).params)
  from flowpose_jax.train import validation
  tiny_config.init_from = folder
  validation.validate_config(tiny_config)  # a shipped folder is a valid init_from
  tiny_config.init_from = str(tmp_path / "missing")
  with pytest.raises(FlowposeError, match="has no checkpoints/ folder"):
    validation.validate_config(tiny_config)


def test_a_card_records_the_shipped_weights_a_run_started_from(published, tiny_config):
  """init_from a shipped model: the card keeps that model's digest, step and date beside its name (the name
  will later mean newer weights); init_from a workdir or nothing records the path alone."""
  workdir, folder = published
  tiny_config.init_from = folder
  record = publish.init_record(tiny_config)
  card = workdir_lib.read_card(folder)
  assert record == {"init_from": folder, "init_from_params_sha256": card[workdir_lib.DIGEST_KEY],
                    "init_from_step": card["step"], "init_from_published": card["published"],
                    "init_from_data": card["data"]}
  tiny_config.init_from = workdir
  assert publish.init_record(tiny_config) == {"init_from": workdir}
  text = publish.render_readme(dict(card, **record, data=[]))
  assert card[workdir_lib.DIGEST_KEY] in text.split("Weights started from:")[1].splitlines()[0]
  assert f"| {card['data'][0]['name']} | {card['data'][0]['split']} (through the weights it started from) |" in text


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_models_card_lists_the_data_behind_its_starting_weights(name):
  """A model that started from another shipped model lists that model's training data with its terms."""
  card = _card(name)
  if not card.get("init_from_params_sha256"):
    pytest.skip(f"{name} did not start from a shipped model")
  assert card.get("init_from_data"), "the data behind the starting weights are missing from the card"
  assert all(d.get("terms") for d in card["init_from_data"])
