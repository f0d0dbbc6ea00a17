"""The paper-sized network on one accelerator, in one command and one Markdown table.

  python benchmarks/accelerator_suite.py --out DIR            # ~8 min (--budget_s 480) on one H100
  python benchmarks/accelerator_suite.py --tiny --out DIR     # tiny sizes: ~1-2 min on a 2-core CPU (the test)

On a lent GPU machine grain, tensorflow-datasets, array-record and ml-collections are missing: carry their
cp312 wheels (../shared/STACK.md) and start the command with
``python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl &&
export PYTHONPATH=/tmp/site:.``;
a copied tree without ``.git`` names its commit with ``--commit``.

Writes ``DIR/accelerator_suite.md`` (one table: device, jax/jaxlib/flax versions, commit, the command,
then every measurement with the config and overrides that made it) and ``DIR/accelerator_suite.json``
(the same numbers):
  a. inference: configs/bbc_pose_spatial.py (256x256x3 -> 64x64x7, HeatmapNet + fusion), bf16 and
     fp32, frames/s over a batch sweep (inputs on the device; compile and a warm-up call with the same
     shapes excluded); FLOPs/frame from XLA's cost analysis of the compiled forward; achieved TFLOP/s
     as a % of the chip's datasheet peak (``_common.DATASHEET_PEAKS``; "unknown" for other chips) and of
     a big jitted matmul measured here (``_common.matmul_peak``).
  b. training: the project's jitted train step (flowpose_jax/train/step.py, state.py) on random
     batches, bf16, ``model.remat`` off and on; the batch doubles from the first size until the step
     runs out of device memory or reaches the cap. Samples/s and MFU: model FLOPs (XLA's cost of the
     step without remat, per sample) x samples/s / the bf16 peak.
  c. flowing: configs/flow.py's flowing model at n = 15 (freshly initialised: speed does not depend
     on the weights), written as a workdir and loaded with ``flowpose_jax.load``; frames/s of
     ``joints(frames, flow=True)`` on a synthetic 720x405 video, DIS flow computed (direct and
     composed windows), against single-frame ``joints(frames)``.
  d. sanity: configs/bbc_pose_spatial.py trained a few steps by ``train_and_evaluate`` (as `flowpose
     train`) on synthetic_signers/large; PASS if the mean loss of the last fifth of the steps is below
     the first fifth's. The full large set (48,000 256x256 frames, ~30 min to render) is used when it
     is prepared in --data_dir; otherwise its first 200 records per split (``FULL.sanity_examples``, 2
     videos, ~25 s to render) are built into DIR (TFDS ``max_examples_per_split``), never into a data
     dir where the whole set is looked for.
Sections share ``--budget_s``: each gets its weight's part of what is left (``SECTION_WEIGHTS``), starts
no item that its estimate says would not fit, and the table says what was trimmed or skipped. A
section that fails is reported in the table (and the exit status is 1); the others still run.

Expected: not yet run on an accelerator. On a 2-core CPU ``--tiny`` takes about 1 minute; the paper
net is ~145 GFLOP per 256x256 frame forward and ~436 GFLOP per training sample (XLA, CPU build).
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.9")  # before jax: room for the batch search

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

from _common import (  # noqa: E402
    commit, compiled_flops, datasheet_peak, matmul_peak, random_train_batch, version)
from flowpose_jax import configuration, models, parallel, workdir as workdir_lib  # noqa: E402
from flowpose_jax.train import state as state_lib  # noqa: E402
from flowpose_jax.train import step as step_lib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # config paths below are relative to it
PAPER_CONFIG = "configs/bbc_pose_spatial.py"
FLOW_CONFIG = "configs/flow.py"
FLOW_N = 15
DTYPES = ("bfloat16", "float32")
SECTION_WEIGHTS = {"a": 0.25, "b": 0.35, "c": 0.15, "d": 0.25}  # shares of the time left
SECTION_NAMES = {"a": "a. inference", "b": "b. training", "c": "c. flowing", "d": "d. sanity"}
GIB = 2.0 ** 30


@dataclasses.dataclass(frozen=True)
class Sizes:
  """What each section runs at."""
  overrides: tuple[str, ...]  # applied to every config (tiny: configs/tiny.py's input and width)
  inference_batches: tuple[int, ...]
  train_batch: int  # the batch search's first batch
  train_cap: int  # ... and its largest
  min_time_s: float  # each timed measurement runs at least this long (after its warm-up)
  video_frames: int
  video_hw: tuple[int, int]
  flow_repeats: int  # interleaved rounds, median reported
  sanity_dataset: str
  sanity_examples: int  # records per split built into DIR when the set is not prepared; 0 = build it whole
  sanity_steps: int
  sanity_batch: int


FULL = Sizes(overrides=(), inference_batches=(1, 4, 16, 64, 256), train_batch=32, train_cap=512,
             min_time_s=1.0, video_frames=64, video_hw=(405, 720), flow_repeats=2,
             sanity_dataset="synthetic_signers/large", sanity_examples=200, sanity_steps=60, sanity_batch=16)
TINY = Sizes(overrides=("--config.input.size=64", "--config.model.width=0.125"), inference_batches=(1, 2),
             train_batch=1, train_cap=2, min_time_s=0.1, video_frames=8, video_hw=(90, 160), flow_repeats=1,
             sanity_dataset="synthetic_signers/tiny", sanity_examples=0, sanity_steps=20, sanity_batch=4)


class Budget:
  """Wall-clock seconds shared by the sections: each gets its weight's part of what is left."""

  def __init__(self, seconds: float):
    self.seconds, self.t0 = float(seconds), time.perf_counter()

  def left(self) -> float:
    return self.seconds - (time.perf_counter() - self.t0)

  def deadline(self, section: str, to_run: str) -> float:
    """perf_counter time by which ``section`` should finish, ``to_run`` being it and the sections after it."""
    share = SECTION_WEIGHTS[section] / sum(SECTION_WEIGHTS[s] for s in to_run)
    return time.perf_counter() + max(0.0, self.left()) * share


def fits(deadline: float, estimate_s: float) -> bool:
  """Whether an item estimated at ``estimate_s`` can still start and end before ``deadline``."""
  return time.perf_counter() + estimate_s <= deadline


def is_out_of_memory(e: BaseException) -> bool:
  text = str(e)
  return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def seconds_per_call(fn, min_s: float) -> float:
  """Seconds per call of ``fn`` (jitted, same shapes): one warm-up call, then back-to-back calls,
  as many as take at least ``min_s``, timed to the last result being ready."""
  jax.block_until_ready(fn())
  calls = 1
  while True:
    t0 = time.perf_counter()
    for _ in range(calls):
      out = fn()
    jax.block_until_ready(out)
    elapsed = time.perf_counter() - t0
    if elapsed >= min_s:
      return elapsed / calls
    calls = max(2 * calls, int(calls * 1.2 * min_s / max(elapsed, 1e-9)) + 1)


def config_command(spec: str, overrides) -> str:
  return " ".join([spec] + list(overrides))


def load_config(spec: str, overrides):
  """``configuration.load_config`` of a config path relative to the repository (from any working dir)."""
  return configuration.load_config(os.path.join(ROOT, spec), list(overrides))


def peaks(sizes: Sizes) -> dict:
  """The rooflines: the chip's datasheet peaks (or None) and a big matmul measured here, per dtype."""
  kind = jax.devices()[0].device_kind
  sheet = datasheet_peak(kind)
  measured = {dtype: matmul_peak(dtype, repeats=3 if sizes is TINY else 5) for dtype in DTYPES}
  return {"device_kind": kind, "datasheet_chip": sheet[0] if sheet else None,
          "datasheet": sheet[1] if sheet else None, "matmul": measured}


def vs_peak(flop_per_s: float, dtype: str, roof: dict) -> str:
  """"x % of the datasheet peak (y % of the measured matmul)"."""
  sheet = (f"{flop_per_s / roof['datasheet'][dtype]:.1%} of {roof['datasheet_chip']} datasheet"
           if roof["datasheet"] else "datasheet peak unknown")
  return f"{sheet}; {flop_per_s / roof['matmul'][dtype]:.1%} of measured matmul"


# ---------------------------------------------------------------- a. inference


def inference_sweep(sizes: Sizes, deadline: float, roof: dict) -> tuple[list[dict], list[str]]:
  """Single-frame frames/s of the paper config per (batch, dtype): (results, notes)."""
  forwards, params, results, notes = {}, {}, [], []
  overrides = {dtype: list(sizes.overrides) + [f"--config.model.dtype={dtype}"] for dtype in DTYPES}
  for dtype in DTYPES:
    config = load_config(PAPER_CONFIG, overrides[dtype])
    graphdef, p = workdir_lib.make_model(config)
    forwards[dtype], params[dtype] = jax.jit(models.forward_fn(graphdef)), jax.device_put(p)
  side = config.input.size
  rng, last_s = np.random.default_rng(0), 0.0
  for batch in sizes.inference_batches:
    for dtype in DTYPES:
      if not fits(deadline, 1.5 * last_s):
        notes.append(f"batch {batch} {dtype} and after: not run (budget)")
        return results, notes
      t0 = time.perf_counter()
      images = jax.device_put(rng.integers(0, 256, (batch, side, side, 3), dtype=np.uint8))
      try:
        compiled = forwards[dtype].lower(params[dtype], images).compile()
        compile_s = time.perf_counter() - t0
        seconds = seconds_per_call(lambda c=compiled, d=dtype, x=images: c(params[d], x), sizes.min_time_s)
      except Exception as e:  # pylint: disable=broad-except
        if not is_out_of_memory(e):
          raise
        notes.append(f"batch {batch} {dtype}: out of memory")
        continue
      flop = compiled_flops(compiled) / batch
      results.append({"dtype": dtype, "batch": batch, "frames_per_s": batch / seconds,
                      "gflop_per_frame": flop / 1e9, "tflop_per_s": flop * batch / seconds / 1e12,
                      "compile_s": compile_s, "vs_peak": vs_peak(flop * batch / seconds, dtype, roof),
                      "command": config_command(PAPER_CONFIG, overrides[dtype])})
      last_s = time.perf_counter() - t0
  return results, notes


# ---------------------------------------------------------------- b. training


def train_point(fn, state, config, mesh, batch_size: int, min_s: float) -> dict:
  """Compiles and times the train step at one batch size (raises on out of memory)."""
  batch = parallel.to_global_batch(mesh, random_train_batch(config, batch_size, np.random.default_rng(0)),
                                   ("image",) + step_lib.TARGET_KEYS)
  t0 = time.perf_counter()
  compiled = fn.lower(state, batch).compile()
  compile_s = time.perf_counter() - t0
  out = {"batch": batch_size, "compile_s": compile_s,
         "gflop_per_sample": compiled_flops(compiled) / batch_size / 1e9}
  try:
    mem = compiled.memory_analysis()
    out["device_gib"] = (mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes
                         - mem.alias_size_in_bytes) / GIB
  except (AttributeError, NotImplementedError, RuntimeError):
    out["device_gib"] = None
  out["samples_per_s"] = batch_size / seconds_per_call(lambda: compiled(state, batch), min_s)
  return out


def batch_search(sizes: Sizes, remat: bool, deadline: float, mesh) -> tuple[list[dict], str]:
  """The doubling search of one remat setting: (points measured, why it stopped)."""
  overrides = list(sizes.overrides) + ["--config.model.dtype=bfloat16",
                                       f"--config.model.remat={str(remat).lower()}"]
  config = load_config(PAPER_CONFIG, overrides)
  graphdef, params = workdir_lib.make_model(config)
  tx = state_lib.make_optimizer(config.optimizer, config.num_train_steps)
  state = parallel.replicate(mesh, state_lib.init_state(params, tx))
  fn = step_lib.jit_train_step(mesh, graphdef=graphdef, tx=tx, loss_cfg=config.loss, donate=False)
  points, batch, last_s = [], sizes.train_batch, 0.0
  while batch <= sizes.train_cap:
    if not fits(deadline, 2.0 * last_s):
      return points, f"budget: batch {batch} not tried"
    t0 = time.perf_counter()
    oom = None
    try:
      points.append(dict(train_point(fn, state, config, mesh, batch, sizes.min_time_s), remat=remat,
                         command=config_command(PAPER_CONFIG, overrides + [f"--config.batch_size={batch}"])))
    except Exception as e:  # pylint: disable=broad-except
      if not is_out_of_memory(e):
        raise
      oom = str(e).splitlines()[0][:160]
    if oom is not None:  # outside the handler, so the traceback's buffers can go
      gc.collect()
      return points, f"out of memory at batch {batch} ({oom})"
    last_s = time.perf_counter() - t0
    batch *= 2
  return points, f"cap {sizes.train_cap} reached"


def training(sizes: Sizes, deadline: float, roof: dict) -> tuple[list[dict], list[str]]:
  """bf16 train-step samples/s, remat off then on, each at the batches of its doubling search."""
  mesh = parallel.make_mesh(jax.devices()[:1])
  points, notes = [], []
  for i, remat in enumerate((False, True)):
    part = time.perf_counter() + (deadline - time.perf_counter()) / (2 - i)  # half of the section each
    found, why = batch_search(sizes, remat, part, mesh)
    points += found
    largest = max((p["batch"] for p in found), default=None)
    notes.append(f"remat {'on' if remat else 'off'}: largest batch run {largest}; stopped: {why}")
  no_remat = {p["batch"]: p["gflop_per_sample"] for p in points if not p["remat"]}
  peak = (roof["datasheet"] or {}).get("bfloat16")
  for p in points:  # model FLOPs: the step without remat (a remat-only search counts its recomputation)
    p["model_gflop_per_sample"] = (no_remat.get(p["batch"]) or next(iter(no_remat.values()), None)
                                   or p["gflop_per_sample"])
    achieved = p["samples_per_s"] * p["model_gflop_per_sample"] * 1e9
    p["mfu"] = achieved / peak if peak else None
    p["vs_peak"] = (f"MFU {p['mfu']:.1%}" if peak else "MFU unknown (no datasheet peak)") + (
        f"; {achieved / roof['matmul']['bfloat16']:.1%} of measured matmul")
  return points, notes


# ---------------------------------------------------------------- c. flowing


def fresh_workdir(config, workdir: str) -> None:
  """Makes ``workdir`` a training workdir of ``config`` with freshly initialised params at step 0."""
  from flowpose_jax.train.checkpoint import Checkpointer  # pylint: disable=import-outside-toplevel
  shutil.rmtree(workdir, ignore_errors=True)
  workdir_lib.ensure(workdir)
  workdir_lib.write_config(workdir, config)
  _, params = workdir_lib.make_model(config)
  tx = state_lib.make_optimizer(config.optimizer, config.num_train_steps,
                                freeze=tuple(config.model.get("freeze", ())))
  checkpointer = Checkpointer(workdir)
  try:
    checkpointer.save(0, state_lib.init_state(params, tx))
  finally:
    checkpointer.close()


def flowing(sizes: Sizes, deadline: float, out_dir: str) -> tuple[list[dict], list[str]]:
  """Flowing frames/s at n = 15 with computed flow, through the public ``flowpose_jax.load`` API."""
  import flowpose_jax  # pylint: disable=import-outside-toplevel
  from flowpose_jax.data import synthetic  # pylint: disable=import-outside-toplevel
  overrides = list(sizes.overrides) + [f"--config.flow.n={FLOW_N}"]
  workdir = os.path.join(out_dir, "flowing_workdir")
  fresh_workdir(load_config(FLOW_CONFIG, overrides), workdir)
  predictor = flowpose_jax.load(workdir)
  (h, w), n = sizes.video_hw, sizes.video_frames
  frames = synthetic.render_video(0, n, h, w, synthetic.PHOTO)["image"]
  runs = {"single-frame: joints(frames)": lambda: predictor.joints(frames),
          "joints(frames, flow=True): direct flow": lambda: predictor.joints(frames, flow=True),
          "joints(frames, flow=True, mode='composed')":
              lambda: predictor.joints(frames, flow=True, mode="composed")}
  notes, seconds = [], {name: [] for name in runs}
  for name, run in list(runs.items()):  # warm-up on the exact calls: every bucketed shape compiles here
    t0 = time.perf_counter()
    run()
    if not fits(deadline, (time.perf_counter() - t0) * (sizes.flow_repeats + 1)):
      notes.append(f"{name}: warm-up only (budget)")
      del runs[name]
  for _ in range(sizes.flow_repeats):  # interleaved rounds
    for name, run in runs.items():
      t0 = time.perf_counter()
      run()
      seconds[name].append(time.perf_counter() - t0)
  notes.append(f"synthetic {w}x{h} video (synthetic.PHOTO), {n} frames; DIS medium flow on the network inputs; "
               f"median of {sizes.flow_repeats} interleaved rounds after a warm-up")
  results = [{"variant": name, "frames_per_s": n / statistics.median(s), "frames": n, "video": f"{w}x{h}",
              "command": config_command(FLOW_CONFIG, overrides)} for name, s in seconds.items() if s]
  return results, notes


# ---------------------------------------------------------------- d. sanity


def sanity_data(sizes: Sizes, data_dir: str, out_dir: str) -> tuple[str, str]:
  """(the data dir holding ``sizes.sanity_dataset``, how it got there)."""
  import importlib  # pylint: disable=import-outside-toplevel
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  from flowpose_jax import datasets  # pylint: disable=import-outside-toplevel
  from flowpose_jax.data.sources import is_prepared, resolve_data_dir  # pylint: disable=import-outside-toplevel
  name, t0 = sizes.sanity_dataset, time.perf_counter()
  importlib.import_module(datasets.BUILDER_MODULES[name.split("/")[0]])  # registers the builder with TFDS
  if is_prepared(name, data_dir):
    return data_dir, f"{name}, prepared in {resolve_data_dir(data_dir)}"
  if not sizes.sanity_examples:
    datasets.ensure_dataset(name, data_dir)
    return data_dir, f"{name}, built into {resolve_data_dir(data_dir)} in {time.perf_counter() - t0:.0f} s"
  scratch = os.path.join(out_dir, f"data_first{sizes.sanity_examples}")
  if not is_prepared(name, scratch):  # a capped build is never written where the whole set is looked for
    builder = tfds.builder(name, data_dir=scratch, file_format="array_record")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(max_examples_per_split=sizes.sanity_examples))
  return scratch, (f"{name}: its first {sizes.sanity_examples} records per split (not prepared in --data_dir; "
                   f"built into {scratch} in {time.perf_counter() - t0:.0f} s)")


def sanity(sizes: Sizes, deadline: float, out_dir: str, data_dir: str) -> tuple[dict | None, list[str]]:
  """A short training run of the paper config, as `flowpose train` runs it; PASS if the loss fell."""
  from flowpose_jax.train.loop import train_and_evaluate  # pylint: disable=import-outside-toplevel
  from flowpose_jax.train.writer import read_rows  # pylint: disable=import-outside-toplevel
  if not fits(deadline, 30.0):
    return None, ["not run (budget)"]
  t0 = time.perf_counter()
  data_dir, data = sanity_data(sizes, data_dir, out_dir)
  steps = sizes.sanity_steps
  overrides = list(sizes.overrides) + [
      f"--config.num_train_steps={steps}", f"--config.batch_size={sizes.sanity_batch}",
      f"--config.optimizer.warmup_steps={max(1, steps // 5)}", "--config.log_every=1",
      f"--config.checkpoint_every={steps}", "--config.eval_every=0", "--config.timelapse_frames=0"]
  if data_dir:
    overrides.append(f"--config.dataset.data_dir={os.path.abspath(data_dir)}")
  spec = f"{PAPER_CONFIG}:{sizes.sanity_dataset}"
  workdir = os.path.join(out_dir, "sanity_workdir")
  shutil.rmtree(workdir, ignore_errors=True)  # a leftover run would be resumed, not rerun
  t1 = time.perf_counter()
  train_and_evaluate(load_config(spec, overrides), workdir, show_progress=False)
  losses = [row["train/loss"] for row in read_rows(workdir) if "train/loss" in row]
  k = max(1, len(losses) // 5)
  start, end = float(np.mean(losses[:k])), float(np.mean(losses[-k:]))
  return {"data": data, "steps": steps, "batch": sizes.sanity_batch, "losses": losses, "loss_start": start,
          "loss_end": end, "mean_of_steps": k, "passed": end < start, "train_s": time.perf_counter() - t1,
          "seconds": time.perf_counter() - t0,
          "command": f"flowpose train --config {spec} --workdir {workdir} {' '.join(overrides)}"}, []


# ---------------------------------------------------------------- the table


class Table:
  """The one Markdown table: | section | measurement | config / setting | result | vs roofline | notes |."""

  HEADER = ("section", "measurement", "config / setting", "result", "vs roofline", "notes")

  def __init__(self):
    self.rows: list[tuple[str, ...]] = []

  def add(self, section: str, what: str, setting: str = "", result: str = "", roofline: str = "",
          notes: str = "") -> None:
    self.rows.append((section, what, setting, result, roofline, notes))

  def markdown(self) -> str:
    def line(cells):
      return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
    return "\n".join([line(self.HEADER), line(["---"] * len(self.HEADER))] + [line(r) for r in self.rows])


def add_setup_rows(table: Table, meta: dict) -> None:
  roof = meta["peaks"]
  table.add("setup", "device", "", f"{meta['device_kind']} x{meta['device_count']} ({meta['backend']})")
  table.add("setup", "versions", "", f"jax {meta['jax']}, jaxlib {meta['jaxlib']}, flax {meta['flax']}")
  table.add("setup", "commit", "", meta["commit"], "", meta["date"])
  table.add("setup", "command", "", f"`{meta['command']}`", "",
            f"XLA_PYTHON_CLIENT_MEM_FRACTION={meta['mem_fraction']}")
  sheet = "unknown for this device"
  if roof["datasheet"]:
    sheet = (", ".join(f"{d} {roof['datasheet'][d] / 1e12:.0f} TFLOP/s" for d in DTYPES)
             + f" ({roof['datasheet_chip']}, dense; fp32 at XLA's default precision)")
  table.add("setup", "peak", "datasheet", sheet)
  table.add("setup", "peak", "measured big matmul (_common.matmul_peak)",
            ", ".join(f"{d} {roof['matmul'][d] / 1e12:.3g} TFLOP/s" for d in DTYPES))


def add_section_rows(table: Table, key: str, result, notes: list[str]) -> None:
  """The rows of one section's result (None: not run) and its notes."""
  name = SECTION_NAMES[key]
  if key == "a":
    for r in result or []:
      table.add(name, "frames/s", f"{r['dtype']}, batch {r['batch']}: {r['command']}",
                f"{r['frames_per_s']:.1f} frames/s", f"{r['tflop_per_s']:.3g} TFLOP/s = {r['vs_peak']}",
                f"{r['gflop_per_frame']:.3g} GFLOP/frame (XLA); compile {r['compile_s']:.1f} s")
  elif key == "b":
    for r in result or []:
      mem = f"{r['device_gib']:.3g} GiB (XLA)" if r["device_gib"] is not None else "memory n/a"
      table.add(name, "samples/s", f"bf16, remat {'on' if r['remat'] else 'off'}, batch {r['batch']}: "
                f"{r['command']}", f"{r['samples_per_s']:.1f} samples/s", r["vs_peak"],
                f"{r['gflop_per_sample']:.3g} GFLOP/sample (XLA; model {r['model_gflop_per_sample']:.3g}); "
                f"{mem}; compile {r['compile_s']:.1f} s")
  elif key == "c":
    for r in result or []:
      table.add(name, "frames/s", f"n = {FLOW_N}, {r['video']}, {r['variant']}: {r['command']}",
                f"{r['frames_per_s']:.2f} frames/s")
  elif key == "d" and result:
    table.add(name, "loss", f"{result['steps']} steps of batch {result['batch']}: `{result['command']}`",
              f"{result['loss_start']:.4g} -> {result['loss_end']:.4g} {'PASS' if result['passed'] else 'FAIL'}",
              "", f"means of the first / last {result['mean_of_steps']} steps; {result['data']}; "
                  f"training {result['train_s']:.0f} s")
  for note in notes:
    table.add(name, "note", "", "", "", note)


# ---------------------------------------------------------------- main


def meta_facts(args, roof: dict) -> dict:
  dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                         text=True, check=False).stdout.strip()
  sha = args.commit or commit()
  return {"device_kind": jax.devices()[0].device_kind, "device_count": jax.device_count(),
          "backend": jax.default_backend(), "jax": jax.__version__, "jaxlib": version("jaxlib"),
          "flax": version("flax"),
          "commit": sha + (" (+ uncommitted changes)" if dirty and not args.commit else ""),
          "date": time.strftime("%Y-%m-%d %H:%M"),
          "mem_fraction": os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION"),
          "command": shlex.join(["python", "benchmarks/accelerator_suite.py"] + sys.argv[1:]), "peaks": roof}


def run_section(key: str, sizes: Sizes, deadline: float, roof: dict, args):
  if key == "a":
    return inference_sweep(sizes, deadline, roof)
  if key == "b":
    return training(sizes, deadline, roof)
  if key == "c":
    return flowing(sizes, deadline, args.out)
  return sanity(sizes, deadline, args.out, args.data_dir)


def parse_args():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--out", required=True, help="folder for accelerator_suite.md/.json and its scratch workdirs")
  p.add_argument("--tiny", action="store_true", help="tiny sizes (configs/tiny.py's input, width): a CPU check")
  p.add_argument("--budget_s", type=float, default=480.0, help="wall-clock seconds for all sections together")
  p.add_argument("--sections", default="abcd", help="a (inference), b (training), c (flowing), d (sanity)")
  p.add_argument("--data_dir", default="", help="TFDS data dir holding the sanity dataset (default: TFDS's)")
  p.add_argument("--commit", default="", help="the commit, where the tree has no .git (default: git's)")
  return p.parse_args()


def main() -> int:
  args = parse_args()
  sizes = TINY if args.tiny else FULL
  budget = Budget(args.budget_s)
  os.makedirs(args.out, exist_ok=True)
  meta = meta_facts(args, peaks(sizes))
  table, report, failed = Table(), {"meta": meta, "sizes": dataclasses.asdict(sizes)}, False
  add_setup_rows(table, meta)
  to_run = [key for key in SECTION_WEIGHTS if key in args.sections]
  for i, key in enumerate(to_run):
    t0 = time.perf_counter()
    print(f"[{budget.seconds - budget.left():.0f} s] {SECTION_NAMES[key]}", flush=True)
    try:
      result, notes = run_section(key, sizes, budget.deadline(key, to_run[i:]), meta["peaks"], args)
    except Exception as e:  # pylint: disable=broad-except  (the other sections still run and report)
      import traceback  # pylint: disable=import-outside-toplevel
      traceback.print_exc()
      failed, result, notes = True, None, [f"failed: {type(e).__name__}: {(str(e).splitlines() or [''])[0]}"]
    report[SECTION_NAMES[key]] = {"result": result, "notes": notes, "seconds": time.perf_counter() - t0}
    add_section_rows(table, key, result, notes)
  for key in SECTION_WEIGHTS:
    if key not in to_run:
      table.add(SECTION_NAMES[key], "note", "", "", "", "not run (--sections)")
  used = budget.seconds - budget.left()
  table.add("budget", "wall time", f"--budget_s {budget.seconds:.0f}", f"{used:.0f} s",
            "", "; ".join(f"{SECTION_NAMES[k]} {report[SECTION_NAMES[k]]['seconds']:.0f} s" for k in to_run))
  report["wall_s"] = used
  text = f"# accelerator suite\n\n{table.markdown()}\n"
  with open(os.path.join(args.out, "accelerator_suite.md"), "w", encoding="utf-8") as f:
    f.write(text)
  with open(os.path.join(args.out, "accelerator_suite.json"), "w", encoding="utf-8") as f:
    json.dump(report, f, indent=1, default=str)
  print(text)
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
