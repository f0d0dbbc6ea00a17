import pytest

from configs import demo
from flowpose_jax import config_utils
from flowpose_jax.errors import ConfigError


def test_overrides_are_typed_like_the_defaults():
  c = config_utils.apply_overrides(demo.get_config(), {
      "batch_size": "32", "optimizer.learning_rate": "1e-4", "augment.flip": "false",
      "model.fusion": "slides", "augment.scale": "(0.9, 1.1)"})
  assert c.batch_size == 32 and isinstance(c.batch_size, int)
  assert c.optimizer.learning_rate == 1e-4
  assert c.augment.flip is False
  assert c.model.fusion == "slides"
  assert tuple(c.augment.scale) == (0.9, 1.1)


def test_typo_names_the_key_and_suggests():
  with pytest.raises(ConfigError, match=r"--config.optimizer.learning_rat: no such config key; "
                                        r"did you mean --config.optimizer.learning_rate"):
    config_utils.apply_overrides(demo.get_config(), {"optimizer.learning_rat": "1"})


def test_bad_value_names_the_key():
  with pytest.raises(ConfigError, match="--config.batch_size='many': expected a int"):
    config_utils.apply_overrides(demo.get_config(), {"batch_size": "many"})


def test_split_override_args_both_forms():
  rest, ov = config_utils.split_override_args(
      ["train", "--config.a=1", "--workdir", "w", "--config.b.c", "2"])
  assert rest == ["train", "--workdir", "w"]
  assert ov == {"a": "1", "b.c": "2"}


def test_config_file_with_arg_and_missing_file(tmp_path):
  c = config_utils.load_config_file("configs/demo.py:demo_noisy")
  assert c.dataset.name == "synthetic_signers/demo_noisy"
  with pytest.raises(ConfigError, match="not found"):
    config_utils.load_config_file(str(tmp_path / "nope.py"))
  bad = tmp_path / "configs" / "bad.py"
  bad.parent.mkdir()
  bad.write_text("import not_a_module\n")
  with pytest.raises(ConfigError, match="bad.py failed to load"):
    config_utils.load_config_file(str(bad))
