"""``flowpose`` command line: demo | train | evaluate | predict | data build.

Thin: parses arguments and calls ``flowpose_jax.jobs``. Configs are loaded by
``ml_collections.config_flags`` (``--config path.py[:arg]`` and typed
``--config.KEY=VALUE`` overrides) on a private absl ``FlagValues``. User errors
(``FlowposeError``) print one line and exit 2, no traceback; ``predict`` exits
1 after writing every readable input if some were skipped.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import math
import os
import re
import sys

import configs
import ml_collections
from absl import flags
from ml_collections import config_flags

from flowpose_jax.errors import ConfigError, FlowposeError

DEFAULT_DEMO_CONFIG = os.path.join(os.path.dirname(configs.__file__), "demo.py")
OVERRIDE_PREFIX = "--config."
# Options whose value may start with "-" (argparse would take "-50,0,..." for an option).
NEGATIVE_VALUE_OPTIONS = ("--box",)
EXIT_SKIPPED = 1  # predict: some inputs could not be read (the others were written)


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
                 help="multi-host: call jax.distributed.initialize() (Slurm, TPU pods); see launch/")

  e = sub.add_parser("evaluate", help="accuracy vs distance on a dataset split")
  e.add_argument("--workdir", required=True)
  e.add_argument("--split", default="test")
  e.add_argument("--dataset", default=None, help="TFDS name[/config] (default: the training set)")
  e.add_argument("--data_dir", default=None)
  e.add_argument("--out", default=None, help="output folder (default: the workdir)")
  e.add_argument("--crop", default=None, choices=("frame", "box"),
                 help="network input: whole frame letterboxed, or the person box (default: as trained)")
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
  r.add_argument("--flow", action="store_true",
                 help="flowing heatmaps: warp and pool neighbouring frames (workdir from configs/flow.py)")
  r.add_argument("--causal", action="store_true", help="with --flow: only past frames (live use)")
  r.add_argument("--flow_method", default="dis_medium", help="OpenCV flow: dis_medium, dis_fast, farneback, ...")

  da = sub.add_parser("data", help="dataset tools")
  dsub = da.add_subparsers(dest="data_command", required=True)
  b = dsub.add_parser("build", help="build a TFDS dataset, e.g. synthetic_signers/demo")
  b.add_argument("name", help="TFDS name[/config], e.g. synthetic_signers/demo, bbc_pose/extended")
  b.add_argument("--data_dir", default=None)
  b.add_argument("--manual_dir", default=None, help="folder with the dataset files you downloaded")
  b.add_argument("--config", default=None, help="builder config, e.g. extended (same as NAME/extended)")
  return p


def _split_args(argv: list[str]) -> tuple[list[str], list[str]]:
  """Separates config overrides from the arguments argparse reads.

  "--config.KEY VALUE" becomes "--config.KEY=VALUE" (so a bool takes a value
  the same way as other types); a bare "--config.KEY" (absl: a bool set to
  true) is kept. ``NEGATIVE_VALUE_OPTIONS`` followed by a value get it
  attached ("--box -50,0,9,9" -> "--box=-50,0,9,9").

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
    elif arg in NEGATIVE_VALUE_OPTIONS and has_value:
      rest.append(f"{arg}={argv[i + 1]}")
      i += 1
    else:
      rest.append(arg)
    i += 1
  return rest, overrides


def _parse_config_flags(spec: str, overrides: list[str]) -> tuple[ml_collections.ConfigDict, dict]:
  """config_flags on a private FlagValues: returns (config, {key: overridden value})."""
  flag_values = flags.FlagValues()
  argv = ["flowpose", f"--config={spec}", *overrides]
  config_flags.DEFINE_config_file("config", flag_values=flag_values, sys_argv=argv, lock_config=False)
  flag_values(argv)
  return flag_values.config, flag_values["config"].override_values


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


def _load_config(spec: str, overrides: list[str]) -> ml_collections.ConfigDict:
  """Loads ``get_config(arg)`` from "path.py[:arg]" and applies "--config.KEY=VALUE" overrides.

  Values are parsed as the field's type (an int refuses 4.9, a bool takes
  true/false); a float override must be finite. Every refusal is a
  ``ConfigError`` with one line naming the file or the key.
  """
  path = spec.split(":", 1)[0]
  if not os.path.isfile(path):
    raise ConfigError(f"--config {spec}: {path} not found; pass a config file, e.g. --config configs/demo.py")
  try:
    config, _ = _parse_config_flags(spec, [])
  except Exception as e:  # anything a config file raises, shown as one line
    cause = _root_cause(e)
    first_line = str(cause).strip().partition("\n")[0]
    raise ConfigError(f"--config {spec}: {type(cause).__name__}: {first_line}") from None
  if not isinstance(config, ml_collections.ConfigDict):
    raise ConfigError(f"--config {spec}: get_config() returned {type(config).__name__}, not a ConfigDict")
  _check_override_keys(config, overrides)
  try:
    config, values = _parse_config_flags(spec, overrides)
  except flags.IllegalFlagValueError as e:
    message = str(e).removeprefix("flag ").splitlines()[0]
    raise ConfigError(_bad_value(config, message)) from None
  except flags.Error as e:  # e.g. a section overridden after one of its fields
    raise ConfigError(str(e).splitlines()[0]) from None
  for key, value in values.items():
    if isinstance(value, float) and not math.isfinite(value):
      raise ConfigError(f"{OVERRIDE_PREFIX}{key}={value}: not a finite number; give a finite value")
  return config


def _training_config(args, overrides: list[str]) -> ml_collections.ConfigDict:
  """The loaded, overridden and validated config of a train/demo command."""
  from flowpose_jax.train.validation import validate_config  # pylint: disable=import-outside-toplevel
  config = _load_config(args.config, overrides)
  if args.data_dir is not None:
    config.dataset.data_dir = args.data_dir
  validate_config(config)
  return config


def _check_output_folder(option: str, path: str) -> None:
  """Refuses an output folder that is, or lies under, an existing file (before any work)."""
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


def run(argv: list[str]) -> int:
  rest, overrides = _split_args(argv)
  args = _parser().parse_args(rest)
  if overrides and args.command not in ("train", "demo"):
    raise FlowposeError(f"--config.* overrides apply to train and demo only, not {args.command}")
  if args.command in ("train", "demo"):
    _check_output_folder("--workdir", args.workdir)
  if getattr(args, "out", None):
    _check_output_folder("--out", args.out)
  _ensure_absl_flags_parsed()
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel  (slow: jax)

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
      import jax  # pylint: disable=import-outside-toplevel
      jax.distributed.initialize()
    config = _training_config(args, overrides)
    jobs.train(config, args.workdir)
    print(f"trained: {os.path.abspath(args.workdir)}")
  elif args.command == "evaluate":
    _, table = jobs.evaluate_workdir(args.workdir, split=args.split, dataset=args.dataset,
                                     data_dir=args.data_dir, out_dir=args.out, crop=args.crop,
                                     output=args.output)
    print(table)
    print(f"wrote results_{args.split}.json/.md and accuracy_{args.split}.png to "
          f"{os.path.abspath(args.out or args.workdir)}")
  elif args.command == "predict":
    box = None if args.box is None else _parse_box(args.box)
    if args.max_frames is not None and args.max_frames < 1:
      raise FlowposeError(f"--max_frames {args.max_frames}: must be >= 1 (omit it to read every frame)")
    written, skipped = jobs.predict_paths(args.workdir, args.inputs, args.out, box=box, flow=args.flow,
                                          causal=args.causal, flow_method=args.flow_method,
                                          max_frames=args.max_frames)
    for path in written:
      print(path)
    for path, reason in skipped:
      print(f"flowpose: skipped {path}: {reason}", file=sys.stderr)
    if skipped:
      return EXIT_SKIPPED
  elif args.command == "data":
    name = args.name
    if args.config:
      if "/" in name:
        raise FlowposeError(f"give the builder config once: {name!r} already names one, drop --config")
      name = f"{name}/{args.config}"
    root = jobs.build_dataset(name, args.data_dir, args.manual_dir)
    print(f"{name} is ready in {root}")
  return 0


def main(argv: list[str] | None = None) -> None:
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
  for noisy in ("absl", "jax", "orbax", "tensorflow_datasets"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
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
