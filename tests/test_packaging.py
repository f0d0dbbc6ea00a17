"""The package installs under its own namespace, and its layers import downwards only."""

import ast
import pathlib
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Where each installed package's folder lies in the repository.
FOLDERS = {"flowpose_jax.configs": ROOT / "configs", "flowpose_jax.data_builders": ROOT / "data_builders"}


def _listed_packages() -> set[str]:
  return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])


def _package_folders() -> dict[str, pathlib.Path]:
  """Every folder with an __init__.py under the installed trees, by its dotted package name."""
  roots = {"flowpose_jax": ROOT / "flowpose_jax", **FOLDERS}
  out = {}
  for name, root in roots.items():
    for init in root.rglob("__init__.py"):
      rel = init.parent.relative_to(root).parts
      out[".".join((name,) + rel)] = init.parent
  return out


def test_every_package_folder_is_installed():
  missing = sorted(set(_package_folders()) - _listed_packages())
  assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"


def test_no_generic_top_level_package():
  assert all(p.split(".")[0] == "flowpose_jax" for p in _listed_packages())


def _imports(path: pathlib.Path) -> set[str]:
  """Modules a file imports (absolute names), at any depth (local imports included)."""
  names = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      names.update(a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names.update([node.module] + [f"{node.module}.{a.name}" for a in node.names])
  return names


def _library_files():
  return sorted((ROOT / "flowpose_jax").rglob("*.py"))


@pytest.mark.parametrize("path", _library_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_library_never_imports_configs_builders_or_the_cli(path):
  """Builders are reached through ``flowpose_jax.datasets`` (build on first use); configs are files
  a command loads; nothing imports the CLI (STYLE.md's layering)."""
  rel = path.relative_to(ROOT).as_posix()
  allowed = {"flowpose_jax/cli.py": ("flowpose_jax.configs",),
             "flowpose_jax/datasets.py": ("flowpose_jax.data_builders",)}.get(rel, ())
  for name in _imports(path):
    for banned in ("flowpose_jax.configs", "flowpose_jax.data_builders", "flowpose_jax.cli"):
      if (name == banned or name.startswith(banned + ".")) and not name.startswith(allowed):
        pytest.fail(f"{rel} imports {name}")


def test_data_does_not_import_models_and_flow_does_not_import_data():
  for sub, banned in (("data", "flowpose_jax.models"), ("flow", "flowpose_jax.data")):
    for path in (ROOT / "flowpose_jax" / sub).rglob("*.py"):
      bad = [n for n in _imports(path) if n == banned or n.startswith(banned + ".")]
      assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_configs_import_only_ml_collections_and_common():
  for path in (ROOT / "configs").glob("*.py"):
    for name in _imports(path):
      assert name.split(".")[0] in ("ml_collections", "__future__") or name.startswith(
          "flowpose_jax.configs"), f"{path.name} imports {name}"
