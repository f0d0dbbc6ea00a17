"""``flowpose`` command line: demo | train | evaluate | predict | export | inspect | study | data build.

Thin: parses arguments and calls ``flowpose_jax.jobs``; configs are loaded by
``flowpose_jax.configuration`` (``--config path.py[:arg]`` and typed
``--config.KEY=VALUE`` overrides through ``ml_collections.config_flags``). User errors
(``FlowposeError``) print one line and exit 2, no traceback; ``predict`` exits
1 after writing every readable input if some were skipped. Training stopped by
SIGTERM (preemption) saves the current step and exits 0; by Ctrl-C, exits 130
after saving it too.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import traceback

import ml_collections
from absl import flags

from flowpose_jax import configs, configuration
from flowpose_jax.errors import FlowposeError, OutputError

DEFAULT_DEMO_CONFIG = os.path.join(os.path.dirname(configs.__file__), "demo.py")
# Options whose value may start with "-" (argparse would take "-50,0,..." for an option).
NEGATIVE_VALUE_OPTIONS = ("--box",)
EXIT_SKIPPED = 1  # predict: some inputs could not be read (the others were written)


PASSES_HELP = ("1 = one pass on the letterboxed frame; 2 = find the person, then predict on a crop "
               "around them; 3+ = re-crop around each pass's joints (default: 3 for a model trained on "
               "crops, else 1)")


MAPS = ("heatmap", "fusion", "pooled")  # --maps: which model output (evaluate, export)


def _add_model(parser: argparse.ArgumentParser) -> None:
  """``--workdir`` or ``--model``: the weights a command reads (a training workdir, or a shipped
  model's name or folder, ``workdir.resolve``), with ``--step`` for a workdir."""
  g = parser.add_mutually_exclusive_group(required=True)
  g.add_argument("--workdir", help="a training workdir")
  g.add_argument("--model", help="a shipped model's name (flowpose_jax/pretrained: "
                 f"{', '.join(_shipped_names()) or 'none installed'}) or a folder `flowpose publish` wrote")
  _add_step(parser)


def _shipped_names() -> list[str]:
  from flowpose_jax import workdir as workdir_lib  # pylint: disable=import-outside-toplevel
  return workdir_lib.shipped_names()


def _model_source(args) -> str:
  """The weights ``--workdir`` / ``--model`` name; an unknown ``--model`` fails naming the shipped ones."""
  if getattr(args, "model", None) is None:
    return args.workdir
  from flowpose_jax import workdir as workdir_lib  # pylint: disable=import-outside-toplevel
  folder = workdir_lib.resolve(args.model)
  if not workdir_lib.is_shipped(folder):
    names = workdir_lib.shipped_names()
    raise FlowposeError(f"--model {args.model}: no shipped model of that name or folder (shipped: "
                        f"{', '.join(names) or 'none'}); a training workdir goes with --workdir")
  if args.step is not None:
    raise FlowposeError(f"--step applies to a --workdir's checkpoints; --model {args.model} has one set of weights")
  return folder


def _add_step(parser: argparse.ArgumentParser) -> None:
  """``--step``: the same meaning on every command that reads a workdir's weights."""
  parser.add_argument("--step", type=int, default=None, help="a checkpointed step (default: the latest intact)")


def _add_distributed(parser: argparse.ArgumentParser) -> None:
  """``--distributed`` and its companions: the same meaning on every command that trains."""
  parser.add_argument("--distributed", action="store_true",
                      help="multi-host: call jax.distributed.initialize(); on Slurm and TPU pods it finds "
                           "its peers itself, elsewhere give the three options below (launch/README.md)")
  parser.add_argument("--coordinator_address", default=None,
                      help="with --distributed: HOST:PORT of process 0 (default: $JAX_COORDINATOR_ADDRESS "
                           "or the cluster's)")
  parser.add_argument("--num_processes", type=int, default=None, help="with --distributed: processes in the job")
  parser.add_argument("--process_id", type=int, default=None, help="with --distributed: this process, 0-based")


def _add_study_points(parser: argparse.ArgumentParser) -> None:
  """The options both studies share: seeds, one point per job, multi-host training."""
  parser.add_argument("--config", required=True, help="base config file[:arg]")
  parser.add_argument("--data_dir", default=None)
  parser.add_argument("--seeds", type=int, default=1,
                      help="trainings per setting, config.seed + 0..K-1; the tables give the mean and std "
                           "(sample standard deviation over the seeds)")
  parser.add_argument("--point", type=int, default=None, metavar="I",
                      help="train only point I (0-based, over settings x seeds: see --list_points), e.g. "
                           "--point $SLURM_ARRAY_TASK_ID, then write the tables from the points finished so far")
  parser.add_argument("--list_points", action="store_true",
                      help="print every point (index, name, seed, done) and exit")
  _add_distributed(parser)


def _add_predict_parser(sub) -> None:
  r = sub.add_parser("predict", help="joints + overlays for images, frame folders or videos")
  _add_model(r)
  r.add_argument("inputs", nargs="+", help="image files, folders of frames, video files")
  r.add_argument("--out", required=True)
  r.add_argument("--box", default=None,
                 help="person box X0,Y0,X1,Y1 in frame px, inclusive (default: whole frame)")
  r.add_argument("--max_frames", type=int, default=None,
                 help="read at most N frames of each video or folder (default: all)")
  r.add_argument("--passes", type=int, default=None,
                 help="without --box: " + PASSES_HELP)
  r.add_argument("--flip_test", action="store_true",
                 help="average each frame's maps with its mirror image's (twice the work)")
  r.add_argument("--coco", action="store_true",
                 help="also write predictions_coco.json: COCO keypoint results (head at nose, the 10 other "
                      "keypoints 0,0 score 0)")
  r.add_argument("--coco_annotations", default=None, metavar="FILE",
                 help="with --coco: COCO annotation file whose images give the image ids (matched by file "
                      "name); default: running ids 1, 2, ... over the frames in input order")
  r.add_argument("--runtime", default="jax", choices=("jax", "onnx", "auto"),
                 help="per-frame network on JAX or onnxruntime; auto: the faster, timed on the first video "
                      "(said on stderr)")
  r.add_argument("--flow", action="store_true",
                 help="flowing heatmaps: warp and pool neighbouring frames (workdir from configs/flow.py)")
  r.add_argument("--flow_source", default=None,
                 help="with --flow: an OpenCV flow method (flowpose_jax.flow.compute.METHODS, e.g. dis_fast); "
                      "default: the model's config.flow.source, or the default method for one trained on exact "
                      "flow (said on stderr)")
  r.add_argument("--flow_mode", default=None,
                 help="with --flow: direct (2n flows per frame) or composed (two per frame, chained along the "
                      "window; faster); default: the model's config.flow.mode")
  r.add_argument("--flow_causal", action="store_true", help="with --flow: only past frames (live use)")
  r.add_argument("--flow_no_shot_cuts", action="store_true",
                 help="with --flow: treat each video as one shot (by default windows and box smoothing stop at "
                      "the shot cuts found in it, flowpose_jax.flow.shots)")


def _add_study_parser(sub) -> None:
  """``flowpose study data-scaling | pooling``."""
  from flowpose_jax import study as study_defaults  # pylint: disable=import-outside-toplevel  (no jax)
  st = sub.add_parser("study", help="many training runs of one config, resumable, with a figure")
  ssub = st.add_subparsers(dest="study_command", required=True)
  ds = ssub.add_parser("data-scaling", help="accuracy vs training-set size, HeatmapNet vs CoordinateNet",
                       epilog="Override any config field with --config.KEY=VALUE (e.g. num_train_steps).")
  _add_study_points(ds)
  ds.add_argument("--out", required=True, help="study folder: one workdir per point, study.json/.csv/.png")
  ds.add_argument("--sizes", required=True, help="clean training-set sizes in records, e.g. 250,500,1000 "
                                                  "(with --scale_set: records of that set added, 0 = none)")
  ds.add_argument("--noisy", default="", help="noisily labelled extra training data NAME:SPLIT, "
                                              "e.g. synthetic_signers/demo_noisy:train[1000:]")
  ds.add_argument("--scale_set", default="", metavar="NAME:SPLIT",
                  help="sizes count records of this dataset.extra_train entry (as written there, e.g. "
                       "lsp/extended:train[:9500]; sets dataset.subset_of), added to train_split and the other "
                       "extra sets, which stay whole")
  ds.add_argument("--models", default=None,
                  help="networks, default heatmap_net,coordinate_net (with --widths: heatmap_net)")
  ds.add_argument("--widths", default="", help="model.width values, each network trained at every one, e.g. "
                                               "0.25,0.5 (settings named heatmap_net-w0.5-n3000)")
  ds.add_argument("--input_sizes", default="",
                  help="input.size values (px, multiples of 16), each network trained at every one, e.g. 128,192 "
                       "(settings named heatmap_net-s192-n3000); a HeatmapNet of any size starts from "
                       "config.init_from")
  ds.add_argument("--same_compute", action="store_true",
                  help="with --widths or --input_sizes: num_train_steps per setting so that each gets the "
                       "training FLOPs of the config's own width and size (XLA's cost analysis of the forward "
                       "pass)")
  ds.add_argument("--no_predict", action="store_true",
                  help="do not fit the power law and train the next size (2x the largest)")
  ds.add_argument("--subset_seed", type=int, default=study_defaults.DEFAULT_SUBSET_SEED,
                  help="draws each size's records at random from dataset.train_split (or --scale_set), nested "
                       "(the smaller sets lie inside the larger); recorded in point.json and study.json")
  ds.add_argument("--crop", default=None, metavar="{frame,box,joints}",
                  help="score every point on dataset.test_split with this crop: frame (the whole frame, the "
                       "person found first), box or joints; default: the crop the point trained on. A finished "
                       "point scored another way is scored again, not retrained")
  ds.add_argument("--passes", type=int, default=None, help="with --crop frame: " + PASSES_HELP)
  ds.add_argument("--flip_test", action="store_true", help="score with the flip test")
  ds.add_argument("--distances", default="",
                  help="more distances d to tabulate, fit and draw beside the protocol's headline d, e.g. 10 "
                       "(study_d10.csv, data_scaling_d10.png)")
  po = ssub.add_parser("pooling", help="accuracy vs window n per temporal pooling and flow source",
                       epilog="--config is a flowing-stage config with --config.init_from=<single-frame workdir>, "
                              "whose dataset, input and model width/fusion/final_relu it takes before the "
                              "--config.KEY=VALUE overrides.")
  _add_study_points(po)
  po.add_argument("--out", required=True, help="study folder: one workdir per point, pooling.json/.csv/.md/.png")
  po.add_argument("--windows", default="1,3,7,15", help="half-widths n (windows of 2n+1 frames)")
  po.add_argument("--poolings", default="sum,parametric,data_dependent")
  po.add_argument("--flow_sources", default="gt,dis_fine",
                  help="config.flow.source values: gt (exact, synthetic) or OpenCV methods "
                       "(flowpose_jax.flow.compute.METHODS)")


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(prog="flowpose", description=__doc__.splitlines()[0])
  p.add_argument("--verbose", action="store_true", help="print the traceback of an error, not only its line")
  sub = p.add_subparsers(dest="command", required=True)

  d = sub.add_parser("demo", help="build synthetic data, train, evaluate and render (CPU-sized)")
  d.add_argument("--workdir", default="workdirs/demo")
  d.add_argument("--config", default=DEFAULT_DEMO_CONFIG, help="config file[:arg] (default: configs/demo.py)")
  d.add_argument("--data_dir", default=None, help="TFDS data dir (default ~/tensorflow_datasets)")

  t = sub.add_parser("train", help="train (resumes if the workdir has a checkpoint)",
                     epilog="Override any config field with --config.KEY=VALUE.")
  t.add_argument("--config", required=True, help="config file[:arg], e.g. configs/demo.py")
  t.add_argument("--workdir", required=True)
  t.add_argument("--data_dir", default=None)
  t.add_argument("--restart", action="store_true",
                 help="set the workdir's checkpoints aside (checkpoints_set_aside/) and start from step 0, "
                      "e.g. when none is intact")
  _add_distributed(t)

  e = sub.add_parser("evaluate", help="accuracy vs distance on a dataset split")
  _add_model(e)
  e.add_argument("--split", default=None,
                 help="default: the config's dataset.test_split (the run's held-out split); "
                      "\"test\" with another --dataset")
  e.add_argument("--dataset", default=None, help="TFDS name[/config] (default: the training set)")
  e.add_argument("--data_dir", default=None)
  e.add_argument("--out", default=None, help="output folder (default: the workdir; needed with --model)")
  e.add_argument("--crop", default=None, metavar="{frame,box,joints}",
                 help="network input: whole frame letterboxed, the record's person box, or the box of "
                      "its annotated joints grown by input.joints_margin (default: as trained)")
  e.add_argument("--passes", type=int, default=None,
                 help="with --crop frame: " + PASSES_HELP)
  e.add_argument("--flip_test", action="store_true",
                 help="average each frame's maps with its mirror image's (twice the work)")
  e.add_argument("--maps", default=None, choices=MAPS,
                 help="score one model output (heatmap = conv8 alone); default: the final one")

  _add_predict_parser(sub)

  _add_study_parser(sub)
  x = sub.add_parser("export", help="trained weights for other runtimes: ONNX, StableHLO, "
                     "TF SavedModel/TFLite, safetensors (+ PyTorch)")
  _add_model(x)
  x.add_argument("--format", required=True, choices=("onnx", "stablehlo", "savedmodel", "tflite", "safetensors"),
                 help="savedmodel and tflite need the tf extra: pip install -c constraints.txt -e '.[tf]'")
  x.add_argument("--out", required=True, help="output folder: the model file(s) and <format>.json (how to feed them)")
  x.add_argument("--maps", default=None, choices=MAPS,
                 help="which map (heatmap = conv8 alone); default the final one (a flowing model: frame + pool parts)")

  i = sub.add_parser("inspect", help="a workdir's latest step, model/data, data position and params digest")
  _add_model(i)

  pu = sub.add_parser("publish", help="a trained workdir -> a shipped model (weights, config, model card) that "
                      "loads by name")
  pu.add_argument("--workdir", required=True)
  _add_step(pu)
  pu.add_argument("--name", required=True, help="the model's name (its folder's)")
  pu.add_argument("--out", default=None,
                  help="folder to put NAME/ in (default: the package's flowpose_jax/pretrained, which ships)")
  pu.add_argument("--command", default="", dest="train_command", help="the command that trained it (the card's)")
  pu.add_argument("--notes", default=None, metavar="FILE.md",
                  help="markdown for the card's Measured section: tables with the commands that made them")
  pu.add_argument("--real_frame", default=None, metavar="IMAGE",
                  help="an image whose joints the card records, for tests to check again")
  pu.add_argument("--overwrite", action="store_true", help="replace an existing model of that name")

  da = sub.add_parser("data", help="dataset tools")
  dsub = da.add_subparsers(dest="data_command", required=True)
  b = dsub.add_parser("build", help="build a TFDS dataset, e.g. synthetic_signers/demo")
  b.add_argument("name", help="TFDS name[/config], e.g. synthetic_signers/demo, bbc_pose/extended")
  b.add_argument("--data_dir", default=None)
  b.add_argument("--manual_dir", default=None, help="folder with the dataset files you downloaded")
  return p


def _training_config(args, overrides: list[str], base: ml_collections.ConfigDict | None = None
                     ) -> ml_collections.ConfigDict:
  """The loaded (or given ``base``), overridden and validated config of a train/demo/study command."""
  from flowpose_jax.train.validation import validate_config  # pylint: disable=import-outside-toplevel
  if base is None:
    config = configuration.load_config(args.config, overrides)
  else:
    config = configuration.apply_overrides(base, overrides)
  if args.data_dir is not None:
    config.dataset.data_dir = args.data_dir
  validate_config(config)
  return config


def _ints(option: str, text: str) -> list[int]:
  try:
    return [int(v) for v in text.split(",")]
  except ValueError:
    raise FlowposeError(f"{option} {text}: give whole numbers separated by commas, e.g. 1,3,7") from None


def _print_accuracies(rows) -> None:
  """One line per (label, {joint type: accuracy}, {joint type: std or None} or None) row: wrists,
  elbows and the average in %, each "mean +- std" where there is a spread."""
  for label, acc, spread in rows:
    cells = []
    for t in ("wrists", "elbows", "average"):
      s = (spread or {}).get(t)
      cells.append(f"{t} {100 * acc[t]:5.1f}" + ("" if s is None else f" +- {100 * s:4.1f}"))
    print(f"{label:40s} " + "  ".join(cells))


def _study_config(args, overrides: list[str]) -> ml_collections.ConfigDict:
  """The study's base config; the pooling study's first takes its single-frame run's data and
  network shape (``study.inherit_stage1``), then the overrides."""
  from flowpose_jax import study, workdir as workdir_lib  # pylint: disable=import-outside-toplevel
  if args.study_command == "pooling":
    # Every point sets flow.source from --flow_sources; validate the base against a studied source
    # (a computed one where there is one), not the file's default (exact flow refuses confidence=fb).
    from flowpose_jax.flow.compute import GT_SOURCE, SOURCES  # pylint: disable=import-outside-toplevel
    sources = [s for s in args.flow_sources.split(",") if s in SOURCES]  # the plan names unknown ones
    computed = [s for s in sources if s != GT_SOURCE]
    if sources and not any(o.startswith("--config.flow.source=") for o in overrides):
      overrides = [f"--config.flow.source={(computed or sources)[0]}", *overrides]
  config = _training_config(args, overrides)
  if args.study_command != "pooling" or not config.get("init_from"):
    return config
  base = study.inherit_stage1(configuration.load_config(args.config), workdir_lib.load_config(config.init_from))
  return _training_config(args, overrides, base=base)


def _study_plan(args, config):
  """The ``study.Study`` the command line describes."""
  from flowpose_jax import study  # pylint: disable=import-outside-toplevel
  if args.study_command == "pooling":
    return study.pooling_plan(config, args.out, _ints("--windows", args.windows), args.poolings.split(","),
                              args.flow_sources.split(","), seeds=args.seeds)
  try:
    widths = tuple(float(w) for w in args.widths.split(",") if w.strip())
  except ValueError:
    raise FlowposeError(f"--widths {args.widths}: give model.width multipliers separated by commas, "
                        f"e.g. 0.25,0.5") from None
  input_sizes = tuple(_ints("--input_sizes", args.input_sizes)) if args.input_sizes.strip() else ()
  models = args.models or ("heatmap_net" if widths or input_sizes else "heatmap_net,coordinate_net")
  try:
    distances = tuple(float(d) for d in args.distances.split(",") if d.strip())
  except ValueError:
    raise FlowposeError(f"--distances {args.distances}: give distances separated by commas, e.g. 10") from None
  scoring = study.Scoring(crop=args.crop, passes=args.passes, flip_test=args.flip_test, distances=distances)
  return study.data_scaling_plan(config, args.out, _ints("--sizes", args.sizes),
                                 models=tuple(m for m in models.split(",") if m), noisy=args.noisy,
                                 predict_next=not args.no_predict, seeds=args.seeds, subset_seed=args.subset_seed,
                                 scale_set=args.scale_set, widths=widths, input_sizes=input_sizes,
                                 same_compute=args.same_compute,
                                 scoring=scoring)


def _run_study(args, overrides: list[str]) -> None:
  from flowpose_jax import study  # pylint: disable=import-outside-toplevel
  _setup_distributed(args)
  plan = _study_plan(args, _study_config(args, overrides))
  if args.list_points:
    for p in study.list_points(plan):
      print(f"{p['index']}\t{p['name']}\tseed={p['seed']}" + (f"\tsteps={p['steps']}" if p["steps"] else "")
            + ("\tdone" if p["done"] else ""))
    print(f"{len(plan.points)} points in {os.path.abspath(args.out)}", file=sys.stderr)
    return
  summary = study.run_study(plan, args.point)
  if summary is None:  # not process 0 of a multi-process run: process 0 writes the tables
    return
  _print_accuracies([*((label, acc, None) for label, acc in summary.get("baselines", {}).items()),
                     *((r["point"]["name"], r["accuracy"], r[study.SPREAD]) for r in summary["points"])])
  for model, p in summary.get("prediction", {}).items():
    print(f"{model}: power law predicted {100 * p['predicted']:.1f} % at {p['frames']} records, "
          f"measured {100 * p['measured']:.1f} % (mean of {p['runs']} seeds)")
  outputs = ("pooling.json/.csv/.md, pooling_vs_n.png, pooling_curves.png" if args.study_command == "pooling"
             else "study.json/.csv, data_scaling.png")
  print(f"assembled {summary['finished']} of {summary['total']} points (mean +- std over seeds): "
        f"wrote {outputs} to {os.path.abspath(args.out)}")


def _check_output_folder(option: str, path: str) -> None:
  """Refuses an output folder that is, or lies under, an existing file (before any work).

  Remote folders (``gs://...``) are checked by whatever writes them."""
  from flowpose_jax import fileio  # pylint: disable=import-outside-toplevel
  if not fileio.is_local(path):
    return
  existing = os.path.abspath(path)
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    where = "is a file" if existing == os.path.abspath(path) else f"lies under the file {existing}"
    raise FlowposeError(f"{option} {path}: {where}, not a folder; pass a folder path (new or existing)")


def _parse_box(text: str):
  """"X0,Y0,X1,Y1" -> [4] float32 (finite, x0 < x1, y0 < y1); the frame overlap is checked per input."""
  from flowpose_jax import inference  # pylint: disable=import-outside-toplevel
  try:
    box = [float(v) for v in text.split(",")]
  except ValueError:
    box = []
  if len(box) != 4:
    raise FlowposeError(f"--box {text}: expected four numbers X0,Y0,X1,Y1 (frame px), e.g. --box 10,20,110,220")
  return inference.check_box(box, name="--box")


def _ensure_absl_flags_parsed() -> None:
  """grain's worker processes read absl flags, which must be parsed (defaults) in this process."""
  if not flags.FLAGS.is_parsed():
    flags.FLAGS(["flowpose"])


def _setup_distributed(args) -> None:
  """``--distributed``: ``_initialize_distributed``; without it, refuses its companion options."""
  if args.distributed:
    _initialize_distributed(args)
  elif (args.coordinator_address, args.num_processes, args.process_id) != (None, None, None):
    raise FlowposeError("--coordinator_address/--num_processes/--process_id need --distributed")


def _initialize_distributed(args) -> None:
  """jax.distributed.initialize with the explicit settings given (the cluster's for the others)."""
  import jax  # pylint: disable=import-outside-toplevel
  if args.num_processes is not None and not 0 <= (args.process_id or 0) < args.num_processes:
    raise FlowposeError(f"--process_id {args.process_id} must be in [0, --num_processes {args.num_processes})")
  jax.distributed.initialize(coordinator_address=args.coordinator_address, num_processes=args.num_processes,
                             process_id=args.process_id)


def run(argv: list[str]) -> int:
  rest, overrides = configuration.split_args(argv, attach=NEGATIVE_VALUE_OPTIONS)
  args = _parser().parse_args(rest)
  if overrides and args.command not in ("train", "demo", "study"):
    raise FlowposeError(f"--config.* overrides apply to train, demo and study only, not {args.command}")
  if args.command in ("train", "demo"):
    _check_output_folder("--workdir", args.workdir)
  if getattr(args, "out", None):
    _check_output_folder("--out", args.out)
  _ensure_absl_flags_parsed()
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel  (slow: jax)
  from flowpose_jax.train.preemption import TrainingStopped  # pylint: disable=import-outside-toplevel
  from flowpose_jax import fileio  # pylint: disable=import-outside-toplevel
  where = getattr(args, "workdir", None) if args.command in ("train", "demo") else getattr(args, "out", None)
  try:
    with fileio.output_errors(where or "the output folder"):  # full / read-only disk: one line
      return _dispatch(args, overrides, jobs)
  except TrainingStopped as e:  # SIGTERM / Ctrl-C during training: the step in progress was saved
    print(f"flowpose: {e}", file=sys.stderr)
    return e.exit_code


def _predict(args, jobs) -> int:
  """``flowpose predict``: writes every readable input; EXIT_SKIPPED if some were skipped or partial."""
  box = None if args.box is None else _parse_box(args.box)
  if args.max_frames is not None and args.max_frames < 1:
    raise FlowposeError(f"--max_frames {args.max_frames}: must be >= 1 (omit it to read every frame)")
  flow_only = {"--flow_source": args.flow_source is not None, "--flow_mode": args.flow_mode is not None,
               "--flow_causal": args.flow_causal, "--flow_no_shot_cuts": args.flow_no_shot_cuts}
  given = [flag for flag, on in flow_only.items() if on]
  if given and not args.flow:
    raise FlowposeError(f"{given[0]} applies to flowing prediction: add --flow or drop it")
  with _sigterm_as_interrupt():  # a stopped predict removes its temp files, as Ctrl-C does
    written, skipped, partial = jobs.predict_paths(
        _model_source(args), args.inputs, args.out, box=box, flow=args.flow, flow_source=args.flow_source,
        flow_mode=args.flow_mode, flow_causal=args.flow_causal,
        shots="none" if args.flow_no_shot_cuts else "detect", max_frames=args.max_frames, runtime=args.runtime,
        coco=args.coco, coco_annotations=args.coco_annotations, passes=args.passes, flip_test=args.flip_test,
        step=args.step)
  for path in written:
    print(path)
  for path, reason in skipped:
    print(f"flowpose: skipped {path}: {reason}", file=sys.stderr)
  for path, reason in partial:
    print(f"flowpose: partial {path}: {reason}", file=sys.stderr)
  return EXIT_SKIPPED if skipped or partial else 0


@contextlib.contextmanager
def _sigterm_as_interrupt():
  """SIGTERM raises KeyboardInterrupt inside the block (clean-up runs; exit 130 as for Ctrl-C)."""
  def interrupt(signum, frame):
    del signum, frame
    raise KeyboardInterrupt

  previous = signal.signal(signal.SIGTERM, interrupt)
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)


def _dispatch(args, overrides: list[str], jobs) -> int:
  """Runs the parsed command; returns the exit status."""

  if args.command == "demo":
    config = _training_config(args, overrides)
    summary = jobs.demo(config, args.workdir)
    d = config.eval.threshold
    print(f"\nSynthetic test split ({config.dataset.name}), accuracy at d = {d:g} px:\n")
    print(summary["table"])
    print(f"\ndemo finished in {summary['seconds'] / 60:.1f} min (training {summary['train_seconds'] / 60:.1f} min)")
    print(f"results, accuracy plot, overlay video and checkpoints: {os.path.abspath(args.workdir)}")
  elif args.command == "train":
    _setup_distributed(args)
    config = _training_config(args, overrides)
    jobs.train(config, args.workdir, restart=args.restart)
    print(f"trained: {os.path.abspath(args.workdir)}")
  elif args.command == "evaluate":
    if args.model is not None and args.out is None:
      raise FlowposeError(f"--model {args.model}: give --out FOLDER for the results (a shipped model's folder "
                          f"is not written to)")
    result, table = jobs.evaluate_workdir(_model_source(args), split=args.split, dataset=args.dataset,
                                          data_dir=args.data_dir, out_dir=args.out, crop=args.crop,
                                          output=args.maps, passes=args.passes, flip_test=args.flip_test,
                                          step=args.step)
    print(table)
    split = result["split"]
    print(f"{result['dataset']}:{split}: wrote results_{split}.json/.md and accuracy_{split}.png to "
          f"{os.path.abspath(args.out or args.workdir)}")
  elif args.command == "publish":
    from flowpose_jax import publish, workdir as workdir_lib  # pylint: disable=import-outside-toplevel
    print(publish.publish(args.workdir, args.name, args.out or workdir_lib.SHIPPED_ROOT, step=args.step,
                          command=args.train_command, notes_file=args.notes, real_frame=args.real_frame,
                          overwrite=args.overwrite))
  elif args.command == "predict":
    return _predict(args, jobs)
  elif args.command == "study":
    _run_study(args, overrides)
  elif args.command == "export":
    from flowpose_jax import export  # pylint: disable=import-outside-toplevel
    for path in export.export_workdir(_model_source(args), args.format, args.out, args.maps, step=args.step):
      print(path)
  elif args.command == "inspect":
    from flowpose_jax import workdir as workdir_lib  # pylint: disable=import-outside-toplevel
    for key, value in workdir_lib.inspect(_model_source(args), args.step).items():
      print(f"{key}: {value}")
  elif args.command == "data":
    root = jobs.build_dataset(args.name, args.data_dir, args.manual_dir)
    print(f"{args.name} is ready in {root}")
  return 0


# orbax warns on every read-only CheckpointManager (how workdirs are read for load/inspect).
_EXPECTED_ORBAX_WARNINGS = ("CheckpointManagerOptions.read_only=True", "Given directory is read only")


def _drop_expected_orbax_warnings(record: logging.LogRecord) -> bool:
  return not any(text in record.getMessage() for text in _EXPECTED_ORBAX_WARNINGS)


def _drop_disk_error_logs(record: logging.LogRecord) -> bool:
  """Drops the checkpointer threads' own tracebacks of a full or read-only disk: the command ends with
  one line saying it (``Checkpointer`` turns the error into an ``OSError``, ``fileio.output_errors``)."""
  text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info and record.exc_info[1] else "")
  return not any(marker in text for marker in _DISK_ERROR_MARKERS)


_DISK_ERROR_MARKERS = ("No space left on device", "Disk quota exceeded", "Read-only file system")


def main(argv: list[str] | None = None) -> None:
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
  for noisy in ("absl", "jax", "orbax", "tensorflow_datasets"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
  logging.getLogger("absl").addFilter(_drop_expected_orbax_warnings)
  for handler in logging.getLogger().handlers:  # orbax logs from its threads, through absl and its own loggers
    handler.addFilter(_drop_disk_error_logs)
  try:
    sys.exit(run(sys.argv[1:] if argv is None else argv))
  except FlowposeError as e:
    if "--verbose" in (sys.argv[1:] if argv is None else argv):
      traceback.print_exc()
    print(f"flowpose: error: {e}", file=sys.stderr)
    if isinstance(e, OutputError) and argv is None:
      # A full or read-only disk: what was written is intact (atomic files, finished checkpoints). Leave
      # now: a normal exit would join the checkpointer's failed background writes, which print dozens
      # of tracebacks from their threads as the interpreter shuts down.
      sys.stdout.flush()
      sys.stderr.flush()
      os._exit(2)  # pylint: disable=protected-access
    sys.exit(2)
  except KeyboardInterrupt:
    print(f"flowpose: interrupted ({_INTERRUPTED.get(_command(argv), 'files already written are kept')})",
          file=sys.stderr)
    sys.exit(130)


# What an interrupt keeps, per command (training stops are reported by TrainingStopped instead).
_INTERRUPTED = {"train": "checkpoints already written are kept", "demo": "checkpoints already written are kept",
                "study": "finished points are kept; rerun the command to resume",
                "predict": "inputs already written are kept; none is half-written"}


def _command(argv: list[str] | None) -> str:
  args = sys.argv[1:] if argv is None else argv
  return next((a for a in args if not a.startswith("-")), "")


if __name__ == "__main__":
  main()
