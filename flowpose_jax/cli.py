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
import logging
import os
import sys

import configs
import ml_collections
from absl import flags

from flowpose_jax import configuration
from flowpose_jax.errors import FlowposeError

DEFAULT_DEMO_CONFIG = os.path.join(os.path.dirname(configs.__file__), "demo.py")
# Options whose value may start with "-" (argparse would take "-50,0,..." for an option).
NEGATIVE_VALUE_OPTIONS = ("--box",)
EXIT_SKIPPED = 1  # predict: some inputs could not be read (the others were written)


PASSES_HELP = ("1 = one pass on the letterboxed frame; 2 = find the person, then predict on a crop "
               "around them; 3+ = re-crop around each pass's joints (default: 3 for a model trained on "
               "crops, else 1)")


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(prog="flowpose", description=__doc__.splitlines()[0])
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
  t.add_argument("--distributed", action="store_true",
                 help="multi-host: call jax.distributed.initialize(); on Slurm and TPU pods it finds "
                      "its peers itself, elsewhere give the three options below (launch/README.md)")
  t.add_argument("--coordinator_address", default=None,
                 help="with --distributed: HOST:PORT of process 0 (default: $JAX_COORDINATOR_ADDRESS "
                      "or the cluster's)")
  t.add_argument("--num_processes", type=int, default=None, help="with --distributed: processes in the job")
  t.add_argument("--process_id", type=int, default=None, help="with --distributed: this process, 0-based")

  e = sub.add_parser("evaluate", help="accuracy vs distance on a dataset split")
  e.add_argument("--workdir", required=True)
  e.add_argument("--split", default="test")
  e.add_argument("--dataset", default=None, help="TFDS name[/config] (default: the training set)")
  e.add_argument("--data_dir", default=None)
  e.add_argument("--out", default=None, help="output folder (default: the workdir)")
  e.add_argument("--crop", default=None, metavar="{frame,box,joints}",
                 help="network input: whole frame letterboxed, the record's person box, or the box of "
                      "its annotated joints grown by input.joints_margin (default: as trained)")
  e.add_argument("--passes", type=int, default=None,
                 help="with --crop frame: " + PASSES_HELP)
  e.add_argument("--flip_test", action="store_true",
                 help="average each frame's maps with its mirror image's (twice the work)")
  e.add_argument("--output", default=None, choices=("heatmap", "fusion", "pooled"),
                 help="score one model output (heatmap = conv8 alone); default: the final one")

  r = sub.add_parser("predict", help="joints + overlays for images, frame folders or videos")
  r.add_argument("--workdir", required=True)
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
  r.add_argument("--flow", action="store_true",
                 help="flowing heatmaps: warp and pool neighbouring frames (workdir from configs/flow.py)")
  r.add_argument("--causal", action="store_true", help="with --flow: only past frames (live use)")
  r.add_argument("--flow_method", default="dis_medium", help="OpenCV flow: dis_medium, dis_fast, farneback, ...")
  r.add_argument("--no_shot_cuts", action="store_true",
                 help="with --flow: treat each video as one shot (by default windows and box smoothing stop at "
                      "the shot cuts found in it, flowpose_jax.flow.shots)")
  r.add_argument("--format", dest="output_format", default="json", choices=("json", "coco"),
                 help="json: per input JSON + CSV + overlay; coco: also predictions_coco.json, COCO keypoint "
                      "results (head at nose, the 10 other keypoints 0,0 score 0)")
  r.add_argument("--coco_annotations", default=None, metavar="FILE",
                 help="with --format coco: COCO annotation file whose images give the image ids (matched by "
                      "file name); default: running ids 1, 2, ... over the frames in input order")
  r.add_argument("--flow_mode", default="direct", choices=("direct", "composed"),
                 help="with --flow: 2n direct flows per frame, or two per frame chained along the window (faster)")
  r.add_argument("--runtime", default="auto", choices=("auto", "jax", "onnx"),
                 help="per-frame network on JAX or onnxruntime; auto: the faster, timed on the first video")

  st = sub.add_parser("study", help="many training runs of one config, resumable, with a figure")
  ssub = st.add_subparsers(dest="study_command", required=True)
  ds = ssub.add_parser("data-scaling", help="accuracy vs training-set size, HeatmapNet vs CoordinateNet",
                       epilog="Override any config field with --config.KEY=VALUE (e.g. num_train_steps).")
  ds.add_argument("--config", required=True, help="base config file[:arg], e.g. configs/demo.py")
  ds.add_argument("--out", required=True, help="study folder: one workdir per point, study.json/.csv/.png")
  ds.add_argument("--sizes", required=True, help="clean training-set sizes in records, e.g. 250,500,1000")
  ds.add_argument("--noisy", default="", help="noisily labelled extra training data NAME:SPLIT, "
                                              "e.g. synthetic_signers/demo_noisy:train[1000:]")
  ds.add_argument("--models", default="heatmap_net,coordinate_net")
  ds.add_argument("--no_predict", action="store_true",
                  help="do not fit the power law and train the next size (2x the largest)")
  ds.add_argument("--data_dir", default=None)
  po = ssub.add_parser("pooling", help="accuracy vs window n per temporal pooling and flow source",
                       epilog="--config is a flowing-stage config with --config.init_from=<single-frame workdir>.")
  po.add_argument("--config", required=True, help="e.g. configs/flow.py")
  po.add_argument("--out", required=True, help="study folder: one workdir per point, pooling.json/.csv/.png")
  po.add_argument("--windows", default="1,3,7,15", help="half-widths n (windows of 2n+1 frames)")
  po.add_argument("--poolings", default="sum,parametric,data_dependent")
  po.add_argument("--flows", default="gt,dis_medium", help="flow sources: gt (exact, synthetic) or OpenCV methods")
  po.add_argument("--data_dir", default=None)
  x = sub.add_parser("export", help="trained weights for other runtimes: ONNX, StableHLO, "
                     "TF SavedModel/TFLite, safetensors (+ PyTorch)")
  x.add_argument("--workdir", required=True)
  x.add_argument("--format", required=True, choices=("onnx", "stablehlo", "savedmodel", "tflite", "safetensors"),
                 help="savedmodel and tflite need the tf extra: pip install -c constraints.txt -e '.[tf]'")
  x.add_argument("--out", required=True, help="output folder: the model file(s) and <format>.json (how to feed them)")
  x.add_argument("--output", default=None, choices=("heatmap", "fusion", "pooled"),
                 help="which map (heatmap = conv8 alone); default the final one (a flowing model: frame + pool parts)")

  i = sub.add_parser("inspect", help="a workdir's latest step, model/data, data position and params digest")
  i.add_argument("--workdir", required=True)
  i.add_argument("--step", type=int, default=None, help="a checkpointed step (default: the latest intact)")

  da = sub.add_parser("data", help="dataset tools")
  dsub = da.add_subparsers(dest="data_command", required=True)
  b = dsub.add_parser("build", help="build a TFDS dataset, e.g. synthetic_signers/demo")
  b.add_argument("name", help="TFDS name[/config], e.g. synthetic_signers/demo, bbc_pose/extended")
  b.add_argument("--data_dir", default=None)
  b.add_argument("--manual_dir", default=None, help="folder with the dataset files you downloaded")
  b.add_argument("--config", default=None, help="builder config, e.g. extended (same as NAME/extended)")
  return p


def _training_config(args, overrides: list[str]) -> ml_collections.ConfigDict:
  """The loaded, overridden and validated config of a train/demo command."""
  from flowpose_jax.train.validation import validate_config  # pylint: disable=import-outside-toplevel
  config = configuration.load_config(args.config, overrides)
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
  """One line per (label, {joint type: accuracy}) row: wrists, elbows and the average in %."""
  for label, acc in rows:
    print(f"{label:40s} wrists {100 * acc['wrists']:5.1f}  elbows {100 * acc['elbows']:5.1f}  "
          f"average {100 * acc['average']:5.1f}")


def _run_study(args, overrides: list[str]) -> None:
  from flowpose_jax import study  # pylint: disable=import-outside-toplevel
  config = _training_config(args, overrides)
  if args.study_command == "pooling":
    summary = study.pooling_study(config, args.out, _ints("--windows", args.windows),
                                  args.poolings.split(","), args.flows.split(","))
    _print_accuracies([*summary["baselines"].items(),
                       *((r["point"]["name"], r["accuracy"]) for r in summary["points"])])
    print(f"wrote pooling.json, pooling.csv and pooling_vs_n.png to {os.path.abspath(args.out)}")
    return
  sizes = _ints("--sizes", args.sizes)
  models = tuple(m for m in args.models.split(",") if m)
  summary = study.data_scaling(config, args.out, sizes, models=models, noisy=args.noisy,
                               predict_next=not args.no_predict)
  _print_accuracies([(r["point"]["name"], r["accuracy"]) for r in summary["points"]])
  for model, p in summary["prediction"].items():
    print(f"{model}: power law predicted {100 * p['predicted']:.1f} % at {p['frames']} records, "
          f"measured {100 * p['measured']:.1f} %")
  print(f"wrote study.json, study.csv and data_scaling.png to {os.path.abspath(args.out)}")


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
  try:
    return _dispatch(args, overrides, jobs)
  except TrainingStopped as e:  # SIGTERM / Ctrl-C during training: the step in progress was saved
    print(f"flowpose: {e}", file=sys.stderr)
    return e.exit_code


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
    if args.distributed:
      _initialize_distributed(args)
    elif (args.coordinator_address, args.num_processes, args.process_id) != (None, None, None):
      raise FlowposeError("--coordinator_address/--num_processes/--process_id need --distributed")
    config = _training_config(args, overrides)
    jobs.train(config, args.workdir)
    print(f"trained: {os.path.abspath(args.workdir)}")
  elif args.command == "evaluate":
    _, table = jobs.evaluate_workdir(args.workdir, split=args.split, dataset=args.dataset,
                                     data_dir=args.data_dir, out_dir=args.out, crop=args.crop,
                                     output=args.output, passes=args.passes, flip_test=args.flip_test)
    print(table)
    print(f"wrote results_{args.split}.json/.md and accuracy_{args.split}.png to "
          f"{os.path.abspath(args.out or args.workdir)}")
  elif args.command == "predict":
    box = None if args.box is None else _parse_box(args.box)
    if args.max_frames is not None and args.max_frames < 1:
      raise FlowposeError(f"--max_frames {args.max_frames}: must be >= 1 (omit it to read every frame)")
    written, skipped = jobs.predict_paths(args.workdir, args.inputs, args.out, box=box, flow=args.flow,
                                          causal=args.causal, flow_method=args.flow_method,
                                          flow_mode=args.flow_mode, max_frames=args.max_frames,
                                          shots="none" if args.no_shot_cuts else "detect",
                                          runtime=args.runtime, output_format=args.output_format,
                                          passes=args.passes, flip_test=args.flip_test,
                                          coco_annotations=args.coco_annotations)
    for path in written:
      print(path)
    for path, reason in skipped:
      print(f"flowpose: skipped {path}: {reason}", file=sys.stderr)
    if skipped:
      return EXIT_SKIPPED
  elif args.command == "study":
    _run_study(args, overrides)
  elif args.command == "export":
    from flowpose_jax import export  # pylint: disable=import-outside-toplevel
    for path in export.export_workdir(args.workdir, args.format, args.out, args.output):
      print(path)
  elif args.command == "inspect":
    from flowpose_jax import workdir as workdir_lib  # pylint: disable=import-outside-toplevel
    for key, value in workdir_lib.inspect(args.workdir, args.step).items():
      print(f"{key}: {value}")
  elif args.command == "data":
    name = args.name
    if args.config:
      if "/" in name:
        raise FlowposeError(f"give the builder config once: {name!r} already names one, drop --config")
      name = f"{name}/{args.config}"
    root = jobs.build_dataset(name, args.data_dir, args.manual_dir)
    print(f"{name} is ready in {root}")
  return 0


# orbax warns on every read-only CheckpointManager (how workdirs are read for load/inspect).
_EXPECTED_ORBAX_WARNINGS = ("CheckpointManagerOptions.read_only=True", "Given directory is read only")


def _drop_expected_orbax_warnings(record: logging.LogRecord) -> bool:
  return not any(text in record.getMessage() for text in _EXPECTED_ORBAX_WARNINGS)


def main(argv: list[str] | None = None) -> None:
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
  for noisy in ("absl", "jax", "orbax", "tensorflow_datasets"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
  logging.getLogger("absl").addFilter(_drop_expected_orbax_warnings)
  try:
    sys.exit(run(sys.argv[1:] if argv is None else argv))
  except FlowposeError as e:
    print(f"flowpose: error: {e}", file=sys.stderr)
    sys.exit(2)
  except KeyboardInterrupt:
    print("flowpose: interrupted (checkpoints already written are kept)", file=sys.stderr)
    sys.exit(130)


if __name__ == "__main__":
  main()
