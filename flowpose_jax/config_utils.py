"""Loading config files (``path[:arg]``) and applying ``--config.KEY=VALUE``."""

from __future__ import annotations

import ast
import difflib
import importlib.util
import os
import sys

import ml_collections

from flowpose_jax.errors import ConfigError


def load_config_file(spec: str) -> ml_collections.ConfigDict:
  """Loads ``get_config(arg)`` from "path/to/config.py[:arg]"."""
  path, _, arg = spec.partition(":")
  path = os.path.abspath(path)
  if not os.path.isfile(path):
    raise ConfigError(f"config file {path} not found; pass e.g. --config configs/demo.py")
  root = os.path.dirname(os.path.dirname(path))  # the folder holding configs/
  if root not in sys.path:
    sys.path.insert(0, root)
  module_spec = importlib.util.spec_from_file_location(f"_flowpose_config_{abs(hash(path))}", path)
  module = importlib.util.module_from_spec(module_spec)
  try:
    module_spec.loader.exec_module(module)
  except Exception as e:  # surface the config file, not a traceback wall
    raise ConfigError(f"config file {path} failed to load: {type(e).__name__}: {e}") from None
  if not hasattr(module, "get_config"):
    raise ConfigError(f"config file {path} has no get_config(arg=None) function")
  config = module.get_config(arg or None)
  return config


def _all_keys(config, prefix="") -> list[str]:
  keys = []
  for k, v in config.items():
    key = f"{prefix}{k}"
    keys.append(key)
    if isinstance(v, ml_collections.ConfigDict):
      keys.extend(_all_keys(v, key + "."))
  return keys


def _parse_value(raw: str, current, key: str):
  if isinstance(current, bool):
    low = raw.lower()
    if low in ("true", "1", "yes"):
      return True
    if low in ("false", "0", "no"):
      return False
    raise ConfigError(f"--config.{key}={raw!r}: expected true/false")
  if isinstance(current, (int, float)) and not isinstance(current, bool):
    try:
      return type(current)(ast.literal_eval(raw)) if isinstance(current, int) else float(raw)
    except (ValueError, SyntaxError):
      raise ConfigError(f"--config.{key}={raw!r}: expected a {type(current).__name__}") from None
  if isinstance(current, (tuple, list)):
    try:
      value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
      raise ConfigError(f"--config.{key}={raw!r}: expected a tuple like (0.8, 1.2)") from None
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)
  return raw


def apply_overrides(config: ml_collections.ConfigDict, overrides: dict[str, str]) -> ml_collections.ConfigDict:
  """Sets dotted keys from strings, typed like the existing values.

  Unknown keys raise ConfigError naming the closest valid keys.
  """
  valid = _all_keys(config)
  for key, raw in overrides.items():
    parts = key.split(".")
    node = config
    for i, part in enumerate(parts):
      if not isinstance(node, ml_collections.ConfigDict) or part not in node:
        near = difflib.get_close_matches(key, valid, n=3)
        hint = f"; did you mean {', '.join('--config.' + n for n in near)}?" if near else ""
        if isinstance(node, ml_collections.ConfigDict):
          section = ".".join(parts[:i]) or "config"
          hint += f" (keys of {section}: {', '.join(sorted(node.keys()))})"
        raise ConfigError(f"--config.{key}: no such config key{hint}")
      if i < len(parts) - 1:
        node = node[part]
    current = node[parts[-1]]
    if isinstance(current, ml_collections.ConfigDict):
      raise ConfigError(f"--config.{key} is a section; set one of its fields, e.g. "
                        f"--config.{key}.{next(iter(current.keys()))}=...")
    node[parts[-1]] = _parse_value(raw, current, key)
  return config


def split_override_args(argv: list[str]) -> tuple[list[str], dict[str, str]]:
  """Separates "--config.a.b=v" / "--config.a.b v" from the other args."""
  rest, overrides = [], {}
  i = 0
  while i < len(argv):
    a = argv[i]
    if a.startswith("--config."):
      key, eq, value = a[len("--config."):].partition("=")
      if not eq:
        if i + 1 >= len(argv):
          raise ConfigError(f"{a} needs a value: {a}=VALUE")
        value = argv[i + 1]
        i += 1
      overrides[key] = value
    else:
      rest.append(a)
    i += 1
  return rest, overrides
