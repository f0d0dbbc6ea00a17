"""evaluate, export and data build into a read-only destination: one line naming it, no traceback."""

import pytest

from flowpose_jax import cli


@pytest.mark.parametrize("command", [
    lambda wd, ro, data: ["evaluate", "--workdir", wd, "--data_dir", data, "--out", str(ro / "eval")],
    lambda wd, ro, data: ["export", "--workdir", wd, "--format", "safetensors", "--out", str(ro / "exported")],
    lambda wd, ro, data: ["data", "build", "synthetic_signers/tiny", "--data_dir", str(ro / "tfds")],
], ids=["evaluate", "export", "data build"])
def test_a_read_only_destination_is_one_line(tiny_workdir, tiny_data_dir, tmpfs, capsys, command):
  read_only = tmpfs("ro,size=1m")
  with pytest.raises(SystemExit) as e:
    cli.main(command(tiny_workdir, read_only, tiny_data_dir))
  err = capsys.readouterr().err.strip().splitlines()
  assert e.value.code == 2 and "Traceback" not in "\n".join(err), err
  assert err[-1].startswith(f"flowpose: error: cannot write {read_only}/") and "Read-only file system" in err[-1]
