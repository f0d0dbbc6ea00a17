"""benchmarks/accelerator_suite.py --tiny end to end: one table with every section, and the sanity run learns."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = ("a. inference", "b. training", "c. flowing", "d. sanity")


def test_tiny_suite_writes_every_section_and_the_loss_falls(tmp_path):
  out = tmp_path / "suite"
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  env.pop("XLA_FLAGS", None)  # one CPU device, as on a plain machine (conftest simulates 8)
  proc = subprocess.run([sys.executable, "benchmarks/accelerator_suite.py", "--tiny", "--out", str(out),
                         "--data_dir", str(tmp_path / "tfds"), "--budget_s", "900"],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  table = (out / "accelerator_suite.md").read_text()
  rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ")]
  for section in SECTIONS:
    measured = [r for r in rows if r[0] == f"| {section}" and r[1] != "note"]
    assert measured, f"no {section} measurement in\n{table}"
  for what in ("device", "versions", "commit", "command", "peak"):
    assert any(r[0] == "| setup" and r[1] == what for r in rows), what
  assert not any("failed" in line or "not run" in line for line in table.splitlines()), table
  sanity = json.loads((out / "accelerator_suite.json").read_text())["d. sanity"]["result"]
  assert sanity["passed"] and sanity["loss_end"] < sanity["loss_start"], sanity
  assert "PASS" in next(r for r in rows if r[0] == "| d. sanity")[3]
