"""Soak: training killed at random moments (SIGKILL and SIGTERM mixed) and resumed, against one uninterrupted run.

  python benchmarks/soak_resume.py --out /tmp/soak [--cycles 20] [--steps 800] [--seed 0]

Runs ``flowpose train --config configs/tiny.py`` to ``--steps`` in one go (the
reference), then in another workdir ``--cycles`` times, each process killed
after a random delay (a seeded mix of SIGKILL and SIGTERM), then once more to
the end. Prints, and writes to ``OUT/soak.md``: each cycle's signal, delay,
exit status and the step it had reached; whether the two runs' params digests
are equal (bit-identical params), the temporaries left in the workdir (orbax
``*.orbax-checkpoint-tmp*`` folders, ``fileio`` ``.*.tmp-*`` files, a held
lock), and the metrics rows: each logged step exactly once, and their count.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _command(workdir: str, data_dir: str, steps: int) -> list[str]:
  return [sys.executable, "-m", "flowpose_jax.cli", "train", "--config", os.path.join(ROOT, "configs", "tiny.py"),
          "--workdir", workdir, "--data_dir", data_dir, f"--config.num_train_steps={steps}",
          "--config.checkpoint_every=10", "--config.log_every=5", "--config.eval_every=0",
          "--config.timelapse_frames=0"]


def _latest_step(workdir: str) -> int | None:
  folder = os.path.join(workdir, "checkpoints")
  steps = [int(n) for n in os.listdir(folder) if n.isdigit()] if os.path.isdir(folder) else []
  return max(steps) if steps else None


def _leftovers(workdir: str) -> list[str]:
  """Temporaries a finished run should not leave: orbax temp folders, atomic-write temp files."""
  found = []
  for root, dirs, files in os.walk(workdir):
    found += [os.path.join(root, d) for d in dirs if "orbax-checkpoint-tmp" in d]
    found += [os.path.join(root, f) for f in files if f.startswith(".") and ".tmp-" in f]
  return found


def _metric_steps(workdir: str) -> list[int]:
  from flowpose_jax.train.writer import read_rows  # pylint: disable=import-outside-toplevel
  return [int(r["step"]) for r in read_rows(workdir) if "train/loss" in r]


def _digest(workdir: str) -> str:
  from flowpose_jax import workdir as workdir_lib  # pylint: disable=import-outside-toplevel
  return workdir_lib.inspect(workdir)["params sha256"]


def soak(out: str, cycles: int, steps: int, seed: int) -> list[str]:
  """Runs the soak; returns the report's lines."""
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel
  data_dir = os.path.join(out, "tfds")
  jobs.build_dataset("synthetic_signers/tiny", data_dir)
  reference, soaked = os.path.join(out, "reference"), os.path.join(out, "soaked")
  subprocess.run(_command(reference, data_dir, steps), check=True, capture_output=True)
  rng = random.Random(seed)
  lines = ["| cycle | signal | after (s) | exit | step reached |", "|---|---|---|---|---|"]
  for cycle in range(cycles):
    proc = subprocess.Popen(_command(soaked, data_dir, steps), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    delay, sig = rng.uniform(3.0, 15.0), rng.choice([signal.SIGKILL, signal.SIGTERM])
    time.sleep(delay)
    proc.send_signal(sig)
    code = proc.wait()
    lines.append(f"| {cycle + 1} | {sig.name} | {delay:.1f} | {code} | {_latest_step(soaked)} |")
  subprocess.run(_command(soaked, data_dir, steps), check=True, capture_output=True)
  logged = _metric_steps(soaked)
  same = _digest(soaked) == _digest(reference)
  lines += ["", f"params digest equal to the uninterrupted run: {same}",
            f"temporaries left: {_leftovers(soaked) or 'none'}",
            f"metrics rows with train/loss: {len(logged)} (reference {len(_metric_steps(reference))}), "
            f"each step once: {len(logged) == len(set(logged))}"]
  return lines


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--out", required=True)
  p.add_argument("--cycles", type=int, default=20)
  p.add_argument("--steps", type=int, default=800)
  p.add_argument("--seed", type=int, default=0)
  args = p.parse_args()
  os.makedirs(args.out, exist_ok=True)
  start = time.perf_counter()
  lines = soak(args.out, args.cycles, args.steps, args.seed)
  lines.append(f"\n{args.cycles} cycles, {time.perf_counter() - start:.0f} s: `python benchmarks/soak_resume.py "
               f"--out {args.out} --cycles {args.cycles} --steps {args.steps} --seed {args.seed}`")
  text = "\n".join(lines)
  print(text)
  with open(os.path.join(args.out, "soak.md"), "w") as f:
    f.write(text + "\n")


if __name__ == "__main__":
  main()
