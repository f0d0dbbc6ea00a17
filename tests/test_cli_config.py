"""``--config`` files and ``--config.KEY=VALUE`` overrides through the CLI, and config validation.

Every refusal is one stderr line, exit code 2, and leaves the workdir without
a config.json (nothing is written or built before the config is known good).
"""

import json
import pathlib
import re

import pytest

from flowpose_jax import cli, configuration, jobs
from flowpose_jax.configs import realpose as realpose_config
from flowpose_jax.errors import ConfigError
from flowpose_jax.train.validation import validate_config


FLOW_CONFIG = str(pathlib.Path(__file__).resolve().parents[1] / "configs" / "flow.py")


def _train(workdir, data_dir, *args, config="configs/tiny.py"):
  return ["train", "--config", config, "--workdir", str(workdir), "--data_dir", data_dir, *args]


def _refused(capsys, argv) -> str:
  """Runs the CLI, expects exit 2 and one stderr line; returns the line."""
  with pytest.raises(SystemExit) as e:
    cli.main(argv)
  err = capsys.readouterr().err.strip()
  assert e.value.code == 2, err
  assert len(err.splitlines()) == 1 and "Traceback" not in err, err
  assert err.startswith("flowpose: error: ")
  return err


@pytest.mark.parametrize("override, expected", [
    ("--config.batch_size=4.9", "--config.batch_size=4.9: .*expected an int like 8"),
    ("--config.batch_size=8.5", "--config.batch_size=8.5: .*expected an int"),
    ("--config.optimizer.learning_rate=nan", "--config.optimizer.learning_rate=nan: not a finite number"),
    ("--config.optimizer.learning_rate=inf", "--config.optimizer.learning_rate=inf: not a finite number"),
    ("--config.optimizer.learning_rate=-inf", "--config.optimizer.learning_rate=-inf: not a finite number"),
    ("--config.augment.flip=maybe", "--config.augment.flip=maybe: .*expected true or false"),
    ("--config.optimizer=1", "--config.optimizer is a section: set one of its fields"),
    ("--config.optimizer.learning_rat=1", "no such config key; did you mean --config.optimizer.learning_rate"),
])
def test_bad_override_is_one_line_naming_the_key(tmp_path, tiny_data_dir, capsys, override, expected):
  err = _refused(capsys, _train(tmp_path / "w", tiny_data_dir, override))
  assert re.search(expected, err), err
  assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("override, expected", [
    ("--config.model.name=foo", r"config.model.name='foo' is not one of \['coordinate_net', 'flowing_net', 'heatmap_net'\]"),
    ("--config.model.fusion=big", r"config.model.fusion='big' is not one of \[.*'none'.*'release'.*'slides'"),
    ("--config.model.dtype=float8", r"config.model.dtype='float8' is not one of \[.*'bfloat16'.*'float32'"),
    ("--config.optimizer.name=rmsprop", r"config.optimizer.name='rmsprop': use 'adam' or 'sgd'"),
    ("--config.optimizer.schedule=linear", r"config.optimizer.schedule='linear': use 'cosine' or 'constant'"),
    ("--config.optimizer.learning_rate=0", r"config.optimizer.learning_rate=0.0 must be > 0"),
    ("--config.optimizer.learning_rate=-1e-3", r"config.optimizer.learning_rate=-0.001 must be > 0"),
    ("--config.input.crop=torso", r"config.input.crop='torso' is not one of \['box', 'frame', 'joints'\]"),
    ("--config.seed=-1", r"config.seed=-1 must be >= 0"),
    ("--config.augment.occlusion=1.5", r"config.augment.occlusion=1.5 must be a probability in \[0, 1\]"),
    ("--config.augment.whole_frame=-0.1", r"config.augment.whole_frame=-0.1 must be a probability"),
    ("--config.augment.blur=-1", r"config.augment.blur=-1.0 must be >= 0"),
    ("--config.input.joints_margin=-0.4", r"config.input.joints_margin=-0.4 must be >= 0"),
    ("--config.augment.scale=(1.2,0.8)", r"config.augment.scale=\(1.2, 0.8\) must be \(low, high\)"),
    ("--config.init_from={tmp}", r"config.init_from='{tmp}' has no checkpoints/ folder"),
    ("--config.init_from=workdirs/no_such_run",
     r"init_from='workdirs/no_such_run' has no checkpoints/ folder \(read from the current directory: "
     r"/.*workdirs/no_such_run\)"),
])
def test_invalid_config_is_refused_before_anything_is_written(tmp_path, tiny_data_dir, capsys, override,
                                                              expected):
  override, expected = override.format(tmp=tmp_path), expected.format(tmp=re.escape(str(tmp_path)))
  err = _refused(capsys, _train(tmp_path / "w", tiny_data_dir, override))
  assert re.search(expected, err), err
  assert not (tmp_path / "w" / "config.json").exists()


@pytest.mark.parametrize("config, override, expected", [
    ("configs/flow.py:median", None, r"config.model.pooling='median' is not one of \['data_dependent', 'max', "
                                     r"'parametric', 'sum'\]"),
    ("configs/flow.py", "--config.flow.source=sift", r"config.flow.source='sift' is not one of \['gt', "),
    ("configs/flow.py", "--config.flow.mode=chained", r"config.flow.mode='chained' is not one of \['direct', "),
    ("configs/flow.py", "--config.flow.n=-1", r"config.flow.n=-1 must be >= 0"),
    ("configs/flow.py", "--config.model.num_frames=5", r"config.model.num_frames=5 must be 2 \* config.flow.n "
                                                       r"\+ 1 = 7"),
])
def test_invalid_flow_config_is_refused(tmp_path, tiny_data_dir, capsys, config, override, expected):
  overrides = ["--config.batch_size=8", *([override] if override else [])]  # 8 test devices
  err = _refused(capsys, _train(tmp_path / "w", tiny_data_dir, *overrides, config=config))
  assert re.search(expected, err), err
  assert not (tmp_path / "w" / "config.json").exists()


def test_jobs_train_validates_before_writing(tmp_path, tiny_config):
  tiny_config.model.name = "foo"
  with pytest.raises(ConfigError, match=r"config.model.name='foo' is not one of"):
    jobs.train(tiny_config, str(tmp_path / "w"))
  assert not (tmp_path / "w" / "config.json").exists()


def test_config_file_errors_are_one_line(tmp_path, tiny_data_dir, capsys):
  err = _refused(capsys, _train(tmp_path / "w", tiny_data_dir, config="configs/tiny.py:big"))
  assert "configs/tiny.py takes no arg, got 'big'" in err
  err = _refused(capsys, _train(tmp_path / "w", tiny_data_dir, config="configs/realpose.py:mixed"))
  assert "configs/realpose.py takes arg '' (synthetic -> real) or one of 'scratch', 'lsp', 'lsp_only', 'stride2', got 'mixed'" in err
  err = _refused(capsys, _train(tmp_path / "w", tiny_data_dir, config=str(tmp_path / "nope.py")))
  assert "nope.py not found" in err
  broken = tmp_path / "broken.py"
  broken.write_text("import not_a_module\n\ndef get_config(arg=None):\n  return None\n")
  err = _refused(capsys, _train(tmp_path / "w", tiny_data_dir, config=str(broken)))
  assert "ModuleNotFoundError: No module named 'not_a_module'" in err
  assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("command", ["train", "demo"])
def test_workdir_that_is_a_file_is_one_line(tmp_path, tiny_data_dir, capsys, command):
  path = tmp_path / "results.txt"
  path.write_text("keep me")
  argv = [command, "--workdir", str(path), "--data_dir", tiny_data_dir]
  if command == "train":
    argv += ["--config", "configs/tiny.py"]
  err = _refused(capsys, argv)
  assert f"--workdir {path}: is a file, not a folder" in err
  err = _refused(capsys, [*argv[:2], str(path / "sub"), *argv[3:]])
  assert f"lies under the file {path}" in err
  assert path.read_text() == "keep me"


def test_overrides_in_both_forms_are_typed_and_saved(tmp_path, tiny_data_dir, capsys):
  workdir = tmp_path / "w"
  with pytest.raises(SystemExit) as e:
    cli.main(_train(workdir, tiny_data_dir, "--config.num_train_steps=2", "--config.checkpoint_every", "2",
                    "--config.batch_size", "16", "--config.augment.flip", "false", "--config.seed=3",
                    "--config.optimizer.learning_rate", "5e-4", "--config.augment.scale=(0.9, 1.1)",
                    "--config.eval_every=0", "--config.timelapse_frames=0"))
  assert e.value.code == 0, capsys.readouterr().err
  with open(workdir / "config.json") as f:
    saved = json.load(f)
  assert saved["batch_size"] == 16 and saved["num_train_steps"] == 2 and saved["seed"] == 3
  assert saved["augment"]["flip"] is False and saved["augment"]["scale"] == [0.9, 1.1]
  assert saved["optimizer"]["learning_rate"] == 5e-4
  assert saved["dataset"]["data_dir"] == tiny_data_dir
  assert f"trained: {workdir}" in capsys.readouterr().out


@pytest.mark.parametrize("arg", realpose_config.ARGS)
def test_every_realpose_arg_is_a_valid_config(arg):
  config = realpose_config.get_config(arg)
  if arg == "lsp_only":  # public data alone, validated on LSP-extended's held-out images
    assert (config.dataset.name, config.dataset.extra_train) == (realpose_config.LSP, "")
    assert config.dataset.eval_split == realpose_config.LSP_HELD_OUT != config.dataset.train_split
  else:
    assert config.dataset.extra_train.split(",")[0] == realpose_config.PARSE
  assert config.init_from == ("" if arg == "scratch" else realpose_config.PRETRAINED)
  config.init_from = ""  # the demo run is not on a test machine
  validate_config(config)


def test_missing_init_from_names_the_command_that_makes_it(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  with pytest.raises(ConfigError, match=re.escape(f"make it with `{realpose_config.PRETRAINED_COMMAND}`")):
    validate_config(realpose_config.get_config())


@pytest.mark.parametrize("overrides, n, num_frames", [
    (["--config.flow.n=7"], 7, 15),
    (["--config.flow.n", "1"], 1, 3),
    ([], 3, 7),
])
def test_overriding_the_window_keeps_the_model_in_step(overrides, n, num_frames):
  _, overrides = configuration.split_args(overrides)
  config = configuration.load_config(FLOW_CONFIG, overrides + ["--config.batch_size=8"])  # 8 test devices
  config.init_from = ""
  assert (config.flow.n, config.model.num_frames) == (n, num_frames)
  validate_config(config)


def test_a_window_that_contradicts_the_model_is_refused():
  config = configuration.load_config(FLOW_CONFIG, ["--config.flow.n=7", "--config.model.num_frames=9",
                                                   "--config.batch_size=8"])
  with pytest.raises(ConfigError, match="must be 2 \\* config.flow.n \\+ 1 = 15"):
    validate_config(config)


def test_verbose_adds_the_traceback_to_the_one_line(tmp_path, tiny_data_dir, capsys):
  argv = ["train", "--config", str(tmp_path / "nope.py"), "--workdir", str(tmp_path / "w")]
  assert "Traceback" not in _refused(capsys, argv)
  with pytest.raises(SystemExit) as e:
    cli.main(["--verbose", *argv])
  err = capsys.readouterr().err
  assert e.value.code == 2 and err.startswith("Traceback") and "flowpose: error: --config" in err.splitlines()[-1]
