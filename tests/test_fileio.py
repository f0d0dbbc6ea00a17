"""Atomic writes (flowpose_jax.fileio): all or nothing, and ordinary permissions."""

import os
import stat

import pytest

from flowpose_jax import fileio


def test_written_files_get_the_permissions_of_a_plain_open(tmp_path):
  umask = os.umask(0o022)
  try:
    fileio.write_text(tmp_path / "a.json", "{}\n")
    fileio.write_bytes(tmp_path / "b.bin", b"x")
    with open(tmp_path / "c.txt", "w", encoding="utf-8") as f:
      f.write("plain")
  finally:
    os.umask(umask)
  modes = {n: stat.S_IMODE(os.stat(tmp_path / n).st_mode) for n in ("a.json", "b.bin", "c.txt")}
  assert modes == {"a.json": 0o644, "b.bin": 0o644, "c.txt": 0o644}  # mkstemp alone gives 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
  path = tmp_path / "results.json"
  fileio.write_text(path, "old")
  with pytest.raises(RuntimeError):
    with fileio.atomic_output(path) as tmp:
      with open(tmp, "w", encoding="utf-8") as f:
        f.write("half")
      raise RuntimeError("interrupted")
  assert path.read_text() == "old" and os.listdir(tmp_path) == ["results.json"]
