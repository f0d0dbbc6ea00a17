"""Every export format against the JAX Predictor, on real frames (../shared/data/realpose) and on a
rendered synthetic clip (so that CI checks every format even where ../shared is absent).

Per format: the max abs heatmap difference and the max decoded-joint
difference (frame px) against ``Predictor.heatmaps`` / ``Predictor.joints``
on the same inputs, within the tolerance stated in ``TOLERANCES``. Missing
optional runtimes (jax2onnx + onnxruntime, torch, TensorFlow for SavedModel
and TFLite) skip with the reason.
"""

import json
import os
import sys

import cv2
import jax
import numpy as np
import pytest

from flowpose_jax.configs import flow as flow_config
from flowpose_jax import cli, heatmaps as codec, inference, workdir as workdir_lib
from flowpose_jax.data.synthetic import render_video
from flowpose_jax.errors import FlowposeError
from flowpose_jax.export import export, onnx_format, spec as spec_lib, stablehlo, tensorflow_format, torch_net, weights

REALPOSE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "..",
                        "shared", "data", "realpose")
# A clip of consecutive frames (Buffy s5e2 1140-1143) plus stills from other shots.
IMAGES = ("buffy_s5e2_001140.jpg", "buffy_s5e2_001141.jpg", "buffy_s5e2_001142.jpg", "buffy_s5e2_001143.jpg",
          "buffy_s5e2_000063.jpg", "buffy_s5e2_000829.jpg")
# (max abs heatmap difference, max decoded-joint difference in frame px) against the JAX Predictor.
TOLERANCES = {
    "stablehlo": (1e-6, 1e-3),  # the same XLA program, reloaded
    "onnx": (1e-4, 0.05),  # onnxruntime's float32 kernels: measured ~3e-6
    "torch": (1e-4, 0.05),  # PyTorch's float32 convolutions: measured ~3e-6
    "savedmodel": (1e-4, 0.05),  # TF's XLA compiles the same StableHLO anew: measured ~2e-6
    "tflite": (1e-4, 0.05),  # TFLite builtin (XNNPACK) float32 kernels: measured ~2e-6
}


FRAME_SOURCES = ("realpose", "synthetic")  # synthetic: so that CI checks every format even without ../shared


def _frames(source: str = "realpose") -> np.ndarray:
  """[6, 405, 720, 3] uint8 RGB: real Buffy frames (skip if ../shared is absent) or a rendered signer clip."""
  if source == "synthetic":
    return render_video(seed=11, num_frames=len(IMAGES), height=405, width=720)["image"]
  if not os.path.isdir(REALPOSE):
    pytest.skip(f"real frames not found at {os.path.normpath(REALPOSE)} (../shared is absent)")
  return np.stack([cv2.imread(os.path.join(REALPOSE, n))[..., ::-1] for n in IMAGES])


def _tensorflow():
  return pytest.importorskip("tensorflow", reason=f"TensorFlow not installed: {tensorflow_format.INSTALL} "
                                                  f"(SavedModel/TFLite checks skip)")


def _onnxruntime():
  pytest.importorskip("jax2onnx", reason=f"ONNX export needs jax2onnx: {onnx_format.INSTALL}")
  return pytest.importorskip("onnxruntime", reason="onnxruntime not installed: pip install -e '.[export]'")


@pytest.fixture(scope="module")
def trained(tiny_workdir):
  return tiny_workdir, workdir_lib.load(tiny_workdir)


@pytest.fixture(scope="module", params=FRAME_SOURCES)
def reference(trained, request):
  """The JAX Predictor on the real (or synthetic) frames: inputs, matrices, heatmaps, joints."""
  _, model = trained
  predictor = inference.Predictor(model.config, model.graphdef, model.params)
  frames = _frames(request.param)
  inputs, mats = predictor.preprocess(frames)
  return frames, inputs, mats, predictor.heatmaps(frames), predictor.joints(frames)[0]


def _check(fmt, maps, reference, stride):
  frames, _, mats, ref_maps, ref_joints = reference
  maps = np.asarray(maps, np.float32)
  assert maps.shape == ref_maps.shape
  joints, _ = codec.decode_to_frame(maps, mats, stride, np.array([f.shape[:2] for f in frames]))
  map_tol, joint_tol = TOLERANCES[fmt]
  assert np.abs(maps - ref_maps).max() <= map_tol, f"{fmt}: heatmap difference"
  assert np.abs(joints - ref_joints).max() <= joint_tol, f"{fmt}: joint difference (frame px)"


def test_stablehlo_reloads_without_model_code_any_batch(trained, reference, tmp_path):
  _, model = trained
  files = export(model, "stablehlo", str(tmp_path))
  assert sorted(os.path.basename(f) for f in files) == ["frame.stablehlo", "stablehlo.json"]
  call = stablehlo.load(str(tmp_path / "frame.stablehlo"))
  inputs = reference[1]
  _check("stablehlo", call(inputs), reference, model.config.input.stride)
  assert np.asarray(call(inputs[:1])).shape[0] == 1  # the batch is symbolic
  exported = jax.export.deserialize(bytearray((tmp_path / "frame.stablehlo").read_bytes()))
  assert exported.platforms == ("cpu", "cuda")


def test_onnx_dynamic_batch_and_metadata(trained, reference, tmp_path):
  ort = _onnxruntime()
  import onnx
  _, model = trained
  export(model, "onnx", str(tmp_path))
  session = ort.InferenceSession(str(tmp_path / "frame.onnx"))
  assert [i.name for i in session.get_inputs()] == ["image"]
  assert session.get_inputs()[0].shape[0] == spec_lib.BATCH
  inputs = reference[1]
  _check("onnx", session.run(None, {"image": inputs})[0], reference, model.config.input.stride)
  assert session.run(None, {"image": inputs[:1]})[0].shape[0] == 1
  props = {p.key: p.value for p in onnx.load(str(tmp_path / "frame.onnx")).metadata_props}
  assert props["joint_names"].split(",")[1] == "right_wrist" and props["input_size"] == "64"
  assert json.loads(props["flowpose"]) == spec_lib.read_spec(str(tmp_path), "onnx")


def test_safetensors_names_layouts_and_spec(trained, tmp_path):
  _, model = trained
  export(model, "safetensors", str(tmp_path))
  tensors, spec = weights.load(str(tmp_path / "weights.safetensors"))
  assert spec == spec_lib.read_spec(str(tmp_path), "safetensors")
  assert tensors["convs.0.kernel"].shape == (5, 5, 3, 16)  # conv1 HWIO at width 0.125
  assert tensors["fusion.out.kernel"].shape[-1] == 7
  flat = jax.tree.leaves(model.params)
  assert len(tensors) == len(flat) and sum(t.size for t in tensors.values()) == sum(x.size for x in flat)
  np.testing.assert_array_equal(tensors["conv8.bias"], np.asarray(model.params["conv8"]["bias"]))
  assert spec["input_size"] == 64 and spec["output_stride"] == 4 and spec["pixels"]["scale"] == 1 / 255
  assert spec["joint_names"][0] == "head"


def test_torch_rebuild_reproduces_the_heatmaps(trained, reference, tmp_path):
  torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch): the torch check skips")
  _, model = trained
  export(model, "safetensors", str(tmp_path))
  net, _ = torch_net.load(str(tmp_path / "weights.safetensors"))
  with torch.no_grad():
    maps = net(torch.from_numpy(reference[1])).numpy()
  _check("torch", maps, reference, model.config.input.stride)


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_tensorflow_formats_dynamic_batch(fmt, trained, reference, tmp_path):
  _tensorflow()
  _, model = trained
  files = export(model, fmt, str(tmp_path))
  suffix = tensorflow_format.SUFFIXES[fmt]
  assert sorted(os.path.basename(f) for f in files) == sorted([f"frame{suffix}", f"{fmt}.json"])
  load = tensorflow_format.load_savedmodel if fmt == "savedmodel" else tensorflow_format.load_tflite
  call = load(str(tmp_path / f"frame{suffix}"))
  inputs = reference[1]
  _check(fmt, call(image=inputs), reference, model.config.input.stride)
  assert call(image=inputs[:1]).shape[0] == 1  # the batch is dynamic
  spec = spec_lib.read_spec(str(tmp_path), fmt)
  assert spec["parts"]["frame"]["file"] == f"frame{suffix}" and spec["input_size"] == 64


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_flowing_pool_part_in_tensorflow_formats(fmt, tmp_path):
  """The pool part (bilinear warp = gathers, then the learned pooling) survives jax2tf and TFLite's lowering;
  TFLite takes one window at a time (tensorflow_format.TFLITE_FIXED_BATCH), and its spec says so."""
  _tensorflow()
  model = _flowing_model()
  export(model, fmt, str(tmp_path))
  suffix = tensorflow_format.SUFFIXES[fmt]
  assert sorted(os.listdir(tmp_path)) == sorted([f"frame{suffix}", f"{fmt}.json", f"pool{suffix}"])
  _, pool = inference.flowing_parts(model.graphdef)
  window = _random_window()
  expected = np.asarray(jax.jit(pool)(model.params, *window.values()))
  load = tensorflow_format.load_savedmodel if fmt == "savedmodel" else tensorflow_format.load_tflite
  call = load(str(tmp_path / f"pool{suffix}"))
  batch = spec_lib.read_spec(str(tmp_path), fmt)["parts"]["pool"]["inputs"][0]["shape"][0]
  assert batch == (1 if fmt == "tflite" else spec_lib.BATCH)
  step = 1 if fmt == "tflite" else 2
  got = np.concatenate([call(**{k: v[i:i + step] for k, v in window.items()}) for i in range(0, 2, step)])
  assert np.abs(got - expected).max() <= TOLERANCES[fmt][0]


def test_tensorflow_loaders_name_a_bad_file(tmp_path):
  _tensorflow()
  bad = tmp_path / "frame.tflite"
  bad.write_bytes(b"not a flatbuffer")
  with pytest.raises(FlowposeError, match="frame.tflite is not a readable TFLite export"):
    tensorflow_format.load_tflite(str(bad))
  with pytest.raises(FlowposeError, match="is not a readable SavedModel export"):
    tensorflow_format.load_savedmodel(str(tmp_path / "missing.savedmodel"))


def _random_window() -> dict:
  rng = np.random.default_rng(0)
  return dict(maps=rng.random((2, 3, 16, 16, 7), dtype=np.float32),
              flows=rng.normal(0, 2, (2, 3, 16, 16, 2)).astype(np.float32),
              confidence=(rng.random((2, 3, 16, 16, 1)) > 0.2).astype(np.float32))


def _flowing_model() -> workdir_lib.Trained:
  """configs/flow.py at the tiny size (64 px input, width 0.125, n = 1), untrained: the wiring is under test."""
  config = flow_config.get_config()
  config.input.size, config.model.width, config.flow.n = 64, 0.125, 1
  graphdef, params = workdir_lib.make_model(config)
  return workdir_lib.Trained(config, graphdef, params, step=0)


@pytest.mark.parametrize("source", FRAME_SOURCES)
def test_flowing_model_exports_frame_and_pool_parts(source, tmp_path):
  """Flowing inference rebuilt from the two exported parts equals Predictor.flowing_heatmaps."""
  from flowpose_jax.data import windows
  from flowpose_jax.flow import compute
  model = _flowing_model()
  predictor = inference.Predictor(model.config, model.graphdef, model.params)
  clip = _frames(source)[:4]
  expected = predictor.flowing_heatmaps(clip, mode="direct")  # as rebuilt below: a flow per pair
  files = export(model, "stablehlo", str(tmp_path))
  assert sorted(os.path.basename(f) for f in files) == ["frame.stablehlo", "pool.stablehlo", "stablehlo.json"]
  spec = spec_lib.read_spec(str(tmp_path), "stablehlo")
  assert spec["flowing"]["num_frames"] == 3 and list(spec["parts"]) == ["frame", "pool"]
  frame = stablehlo.load(str(tmp_path / "frame.stablehlo"))
  pool = stablehlo.load(str(tmp_path / "pool.stablehlo"))
  # what another runtime does, following the spec: per-frame maps once, then a window per frame
  inputs, _ = predictor.preprocess(clip)
  maps = np.asarray(frame(inputs))
  identity = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
  n, s = 1, spec["input_size"]
  got = []
  for t in range(len(clip)):
    idx = np.clip(np.arange(t - n, t + n + 1), 0, len(clip) - 1)
    flows = np.stack([np.zeros((s, s, 2), np.float32) if j == t else compute.flow_between(inputs[t], inputs[j])
                      for j in idx])
    grid, conf = windows.flows_to_heatmap(flows, identity, s, spec["output_stride"])
    got.append(np.asarray(pool(maps[idx][None], grid[None], conf[None]))[0])
  np.testing.assert_allclose(np.stack(got), expected, atol=1e-5)


def test_flowing_pool_part_in_onnx(tmp_path):
  ort = _onnxruntime()
  model = _flowing_model()
  export(model, "onnx", str(tmp_path))
  assert sorted(os.listdir(tmp_path)) == ["frame.onnx", "onnx.json", "pool.onnx"]
  _, pool = inference.flowing_parts(model.graphdef)
  window = _random_window()
  expected = np.asarray(jax.jit(pool)(model.params, *window.values()))
  got = ort.InferenceSession(str(tmp_path / "pool.onnx")).run(None, window)[0]
  assert np.abs(got - expected).max() <= TOLERANCES["onnx"][0]


def test_cli_export_and_its_errors(trained, tmp_path, capsys):
  wd, _ = trained
  out = tmp_path / "out"
  with pytest.raises(SystemExit) as e:
    cli.main(["export", "--workdir", wd, "--format", "safetensors", "--out", str(out), "--maps", "heatmap"])
  assert e.value.code == 0
  assert capsys.readouterr().out.split() == [str(out / "weights.safetensors"), str(out / "safetensors.json")]
  assert spec_lib.read_spec(str(out), "safetensors")["output"] == "heatmap"
  with pytest.raises(SystemExit) as e:
    cli.main(["export", "--workdir", wd, "--format", "stablehlo", "--out", str(out), "--maps", "pooled"])
  err = capsys.readouterr().err.strip().splitlines()
  assert e.value.code == 2 and len(err) == 1 and "--maps pooled needs a flowing model" in err[0]


def test_cli_tensorflow_formats_without_tensorflow_name_the_extra(trained, tmp_path, capsys, monkeypatch):
  wd, _ = trained
  monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow -> ImportError
  for fmt in ("savedmodel", "tflite"):
    with pytest.raises(SystemExit) as e:
      cli.main(["export", "--workdir", wd, "--format", fmt, "--out", str(tmp_path / fmt)])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and tensorflow_format.INSTALL in err[0], err
    assert not (tmp_path / fmt / f"{fmt}.json").exists()


def test_savedmodel_export_replaces_an_old_one_only_when_the_new_one_is_whole(trained, tmp_path, monkeypatch):
  tf = _tensorflow()
  _, model = trained
  export(model, "savedmodel", str(tmp_path))
  before = sorted(p.name for p in (tmp_path / "frame.savedmodel").rglob("*"))

  def fail(*args, **kwargs):
    raise OSError("disk full")
  monkeypatch.setattr(tf.saved_model, "save", fail)
  with pytest.raises(OSError, match="disk full"):
    export(model, "savedmodel", str(tmp_path))
  assert sorted(p.name for p in (tmp_path / "frame.savedmodel").rglob("*")) == before
  assert sorted(os.listdir(tmp_path)) == ["frame.savedmodel", "savedmodel.json"]  # no temp folder left
  monkeypatch.undo()
  export(model, "savedmodel", str(tmp_path))  # and a second export over the first one works
  assert tensorflow_format.load_savedmodel(str(tmp_path / "frame.savedmodel"))(
      image=np.zeros((1, 64, 64, 3), np.uint8)).shape == (1, 16, 16, 7)


def test_stride_2_model_exports_to_onnx_and_torch_net_refuses_it(tmp_path):
  """model.output_stride=2 (the refine head, here with a non-zero last layer): ONNX (symbolic batch) gives
  the Predictor's 2x finer maps; the spec names the head; torch_net, which does not rebuild it, says so."""
  from flowpose_jax.configs import tiny
  from flowpose_jax.models.heatmap_net import REFINE_KEY
  config = tiny.get_config()
  config.model.output_stride = config.input.stride = 2
  graphdef, params = workdir_lib.make_model(config)
  rng = np.random.default_rng(0)
  params[REFINE_KEY][1]["kernel"] = rng.normal(0, 0.1, params[REFINE_KEY][1]["kernel"].shape).astype(np.float32)
  model = workdir_lib.Trained(config=config, graphdef=graphdef, params=params, step=0)
  predictor = inference.Predictor(config, graphdef, params)
  frames = render_video(seed=11, num_frames=3, height=96, width=128)["image"]
  inputs, _ = predictor.preprocess(frames)
  expected = predictor.heatmaps(frames)
  assert expected.shape[1:3] == (32, 32)
  export(model, "safetensors", str(tmp_path / "st"))
  spec = spec_lib.read_spec(str(tmp_path / "st"), "safetensors")
  assert spec["output_stride"] == 2 and spec["architecture"]["heatmap_net"]["refine"]["out"] == f"{REFINE_KEY}.1"
  with pytest.raises(FlowposeError, match="refine head"):
    torch_net.build(*weights.load(str(tmp_path / "st" / "weights.safetensors")))
  ort = _onnxruntime()
  export(model, "onnx", str(tmp_path / "onnx"))
  session = ort.InferenceSession(str(tmp_path / "onnx" / "frame.onnx"))
  maps = session.run(None, {"image": inputs})[0]
  assert np.abs(maps - expected).max() <= TOLERANCES["onnx"][0] * max(1.0, np.abs(expected).max())
