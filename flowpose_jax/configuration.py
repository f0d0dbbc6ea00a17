"""Config files and overrides: ``path/to/config.py[:arg]`` plus ``--config.KEY=VALUE``.

The one home of config loading, for the CLI and the benchmark scripts:
``ml_collections.config_flags`` on a private absl ``FlagValues`` (no global
flags), so overrides are typed by the field they set (an int refuses 4.9, a
bool takes true/false), floats must be finite, and an unknown key is refused
naming the closest valid ones. Every refusal is a ``ConfigError`` with one
line naming the file or the key.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import re

import ml_collections
from absl import flags
from ml_collections import config_flags

from flowpose_jax.errors import ConfigError

OVERRIDE_PREFIX = "--config."


def split_args(argv: list[str], attach: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
  """Separates config overrides from the arguments argparse reads.

  "--config.KEY VALUE" becomes "--config.KEY=VALUE" (so a bool takes a value
  the same way as other types); a bare "--config.KEY" (absl: a bool set to
  true) is kept. Options in ``attach`` followed by a value get it attached
  ("--box -50,0,9,9" -> "--box=-50,0,9,9": argparse would take a value that
  starts with "-" for an option).

  Returns:
    (arguments for argparse, overrides "--config.KEY[=VALUE]" in order).
  """
  rest, overrides = [], []
  i = 0
  while i < len(argv):
    arg = argv[i]
    has_value = i + 1 < len(argv)
    if arg.startswith(OVERRIDE_PREFIX):
      if "=" not in arg and has_value and not argv[i + 1].startswith("--"):
        arg = f"{arg}={argv[i + 1]}"
        i += 1
      overrides.append(arg)
    elif arg in attach and has_value:
      rest.append(f"{arg}={argv[i + 1]}")
      i += 1
    else:
      rest.append(arg)
    i += 1
  return rest, overrides


def _root_cause(e: BaseException) -> BaseException:
  """The first exception of a chain (config_flags re-raises a config file's error, absl wraps that)."""
  while e.__cause__ is not None or e.__context__ is not None:
    e = e.__cause__ or e.__context__
  return e


def _config_keys(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
  """Dotted keys of every field and section, e.g. ["seed", "optimizer", "optimizer.name", ...]."""
  keys = []
  for name, value in config.items():
    keys.append(prefix + name)
    if isinstance(value, ml_collections.ConfigDict):
      keys += _config_keys(value, f"{prefix}{name}.")
  return keys


def _get(config: ml_collections.ConfigDict, key: str):
  """The value at a dotted key that ``_config_keys`` listed."""
  for part in key.split("."):
    config = config[part]
  return config


def _check_override_keys(config: ml_collections.ConfigDict, overrides: list[str]) -> None:
  """Refuses an override of a key the config lacks, naming the closest valid keys."""
  keys = _config_keys(config)
  fields = [k for k in keys if not isinstance(_get(config, k), ml_collections.ConfigDict)]
  for override in overrides:
    key = override[len(OVERRIDE_PREFIX):].split("=", 1)[0]
    if key in keys:
      continue
    section = key.rpartition(".")[0]
    near = difflib.get_close_matches(key, fields, n=3)
    hint = f"; did you mean {', '.join(OVERRIDE_PREFIX + k for k in near)}?" if near else ""
    if section in keys and isinstance(_get(config, section), ml_collections.ConfigDict):
      hint += f" (keys of {section}: {', '.join(sorted(_get(config, section).keys()))})"
    elif not near:
      hint += f" (top-level keys: {', '.join(sorted(config.keys()))})"
    raise ConfigError(f"{OVERRIDE_PREFIX}{key}: no such config key{hint}")


def _bad_value(config: ml_collections.ConfigDict, message: str) -> str:
  """absl's "--config.KEY=VALUE: why" plus what KEY takes ("an int like 8")."""
  match = re.search(re.escape(OVERRIDE_PREFIX) + r"([\w.]+)", message)
  if match is None:
    return message
  flag, value = match.group(0), _get(config, match.group(1))
  if isinstance(value, ml_collections.ConfigDict):
    return f"{flag} is a section: set one of its fields, e.g. {flag}.{next(iter(value.keys()))}=VALUE"
  if isinstance(value, bool):
    return f"{message}; expected true or false"
  kind = type(value).__name__
  return f"{message}; expected {'an' if kind[0] in 'aeiou' else 'a'} {kind} like {value!r}"


def _read_file(spec: str) -> ml_collections.ConfigDict:
  """``get_config(arg)`` of "path.py[:arg]", with any error of the file as one line."""
  path = spec.split(":", 1)[0]
  if not os.path.isfile(path):
    raise ConfigError(f"--config {spec}: {path} not found; pass a config file, e.g. --config configs/demo.py")
  try:
    flag_values = flags.FlagValues()
    argv = ["flowpose", f"--config={spec}"]
    config_flags.DEFINE_config_file("config", flag_values=flag_values, sys_argv=argv, lock_config=False)
    flag_values(argv)
    config = flag_values.config
  except Exception as e:  # anything a config file raises, shown as one line
    cause = _root_cause(e)
    first_line = str(cause).strip().partition("\n")[0]
    raise ConfigError(f"--config {spec}: {type(cause).__name__}: {first_line}") from None
  if not isinstance(config, ml_collections.ConfigDict):
    raise ConfigError(f"--config {spec}: get_config() returned {type(config).__name__}, not a ConfigDict")
  return config


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> ml_collections.ConfigDict:
  """``config`` with "--config.KEY=VALUE" overrides applied (config_flags' typed parsing).

  Values are parsed as the field's type (an int refuses 4.9, a bool takes
  true/false); a float must be finite; an unknown key is refused naming the
  closest valid keys. Fields a config file derives from others through
  ``ml_collections.FieldReference`` follow an override of their source
  (``--config.flow.n=7`` makes ``model.num_frames`` 15 in configs/flow.py).
  Returns the overridden config (``config`` is left as is).
  """
  if not overrides:
    return config
  _check_override_keys(config, overrides)
  flag_values = flags.FlagValues()
  argv = ["flowpose", *overrides]
  # deepcopy, not ConfigDict(config.to_dict()): that resolves the references and cuts derived fields loose.
  config_flags.DEFINE_config_dict("config", copy.deepcopy(config),
                                  flag_values=flag_values, lock_config=False, sys_argv=argv)
  try:
    flag_values(argv)
  except flags.IllegalFlagValueError as e:
    message = str(e).removeprefix("flag ").splitlines()[0]
    raise ConfigError(_bad_value(config, message)) from None
  except flags.Error as e:  # e.g. a section overridden after one of its fields
    raise ConfigError(str(e).splitlines()[0]) from None
  for key, value in flag_values["config"].override_values.items():
    if isinstance(value, float) and not math.isfinite(value):
      raise ConfigError(f"{OVERRIDE_PREFIX}{key}={value}: not a finite number; give a finite value")
  return flag_values.config


def load_config(spec: str, overrides: list[str] = ()) -> ml_collections.ConfigDict:
  """Loads ``get_config(arg)`` from "path.py[:arg]" and applies ``apply_overrides``."""
  return apply_overrides(_read_file(spec), list(overrides))


__all__ = ["load_config", "apply_overrides", "split_args", "OVERRIDE_PREFIX"]
