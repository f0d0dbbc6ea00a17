"""``flowpose publish``: a trained workdir -> a shipped model folder that loads by path or name.

The folder (``workdir`` module docstring: config.json, weights.safetensors,
model_card.json, README.md) holds everything inference, export and a later
run's ``config.init_from`` need, and nothing of training. Written into a temp
folder and moved in place whole, so a stopped publish leaves no half model.

The card records, beside the params' SHA-256, what a test can check again on
any machine: the joints the model gives on a rendered synthetic frame
(``REFERENCE_RENDER``) and, when given, on a real frame (its file name and
SHA-256, so the test finds and verifies it wherever the frames are kept).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess

import jax
import numpy as np

from flowpose_jax import fileio, media, workdir as workdir_lib
from flowpose_jax.errors import InputError

# The rendered reference frame: render_video(seed, 1, height, width)["image"][0].
REFERENCE_RENDER = {"seed": 20261206, "height": 256, "width": 256}
SIZE_LIMIT_BYTES = 10 * 2**20  # what the package may ship per model

# Where each training set comes from and on what terms (the card's data table).
DATA_TERMS = {
    "synthetic_signers": "rendered by this package (flowpose_jax.data.synthetic); no terms",
    "realpose/buffy": "Buffy Stickmen v3.0 (Eichner, Marin-Jimenez, Zisserman, Ferrari): frames of the TV series "
                      "Buffy the Vampire Slayer, distributed by the authors for research benchmarking with no "
                      "licence; research use, cite their papers",
    "realpose/parse": "PARSE (Ramanan, NIPS 2006): research use, cite the paper",
    "lsp/extended": "LSP-extended (Johnson & Everingham, CVPR 2011): Flickr images, crowd-sourced labels; cite "
                    "the paper (its README's request)",
    "lsp/original": "LSP (Johnson & Everingham, BMVC 2010): Flickr images; cite the paper",
    "bbc_pose": "BBC Pose (Charles et al.): BBC footage under the dataset's research licence",
    "flic": "FLIC (Sapp & Taskar, CVPR 2013): frames of Hollywood films; research use",
    "poses_in_the_wild": "Poses in the Wild (Cherian et al., CVPR 2014): research use",
    "chalearn": "ChaLearn Gesture (Escalera et al.): research use under the challenge's terms",
    "coco_keypoints": "COCO keypoints: annotations CC BY 4.0, images under their Flickr licences",
}


def data_terms(name: str) -> str:
  """The terms line of dataset ``name`` ("lsp/extended", "synthetic_signers/demo", ...)."""
  for key in sorted(DATA_TERMS, key=len, reverse=True):
    if name == key or name.startswith(key + "/") or name.split("/")[0] == key:
      return DATA_TERMS[key]
  return "a user's own data: see its terms"


def training_sets(config) -> list[dict]:
  """[{"name", "split", "terms"}] of the sets a config trains on (``data.sources.training_sets``)."""
  from flowpose_jax.data import sources  # pylint: disable=import-outside-toplevel
  return [{"name": n, "split": s, "terms": data_terms(n)} for n, s in sources.training_sets(config.dataset)]


def git_commit(folder: str) -> str:
  """HEAD of the git checkout holding ``folder`` (+ " (modified)" when the tree differs), or ""."""
  try:
    head = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()
    dirty = subprocess.run(["git", "-C", folder, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=True, timeout=30).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return ""
  return head + (" (modified)" if dirty else "")


def reference_joints(predictor, frame: np.ndarray) -> dict:
  """A frame [H, W, 3] uint8 -> {"joints": [7, 2] px (x, y), "confidence": [7]}, default passes, no flip."""
  joints, confidence = predictor.joints(frame[None])
  return {"joints": np.round(joints[0], 3).tolist(), "confidence": np.round(confidence[0], 4).tolist()}


def reference_frame() -> np.ndarray:
  """The rendered reference frame [256, 256, 3] uint8 (``REFERENCE_RENDER``)."""
  from flowpose_jax.data.synthetic import render_video  # pylint: disable=import-outside-toplevel
  r = REFERENCE_RENDER
  return render_video(r["seed"], 1, r["height"], r["width"])["image"][0]


def init_record(config) -> dict:
  """What ``config.init_from`` named, for the card: {"init_from": the name or path} and, for a shipped
  model, the digest, step and date of the one there now ("init_from_params_sha256", "init_from_step",
  "init_from_published": a name outlives the weights it names once a newer model is published over it)
  and the data it and its own starting weights learnt from ("init_from_data", whose terms apply)."""
  init = config.get("init_from", "")
  record = {"init_from": init}
  folder = workdir_lib.resolve(init) if init else ""
  if folder and workdir_lib.is_shipped(folder):
    shipped = workdir_lib.read_card(folder)
    inherited = shipped.get("data", []) + shipped.get("init_from_data", [])
    record.update(init_from_params_sha256=shipped.get(workdir_lib.DIGEST_KEY, ""),
                  init_from_step=shipped.get("step"), init_from_published=shipped.get("published", ""),
                  # the data those weights learnt from (and theirs before them): their terms apply here too
                  init_from_data=[d for i, d in enumerate(inherited) if d not in inherited[:i]])
  return record


def _card(trained, predictor, workdir: str, name: str, *, command: str, notes: str, real_frame: str | None,
          digest: str) -> dict:
  config = trained.config
  card = {
      "name": name,
      workdir_lib.DIGEST_KEY: digest,
      "step": int(trained.step),
      "published": datetime.date.today().isoformat(),
      "source_workdir": os.path.abspath(workdir),
      "command": command,
      "commit": git_commit(os.path.dirname(os.path.abspath(__file__))),
      "model": {"name": config.model.name, "width": float(config.model.get("width", 1.0)),
                "input_size": int(config.input.size), "stride": int(config.input.stride),
                "params": int(sum(np.size(x) for x in jax.tree.leaves(trained.params)))},
      "data": training_sets(config),
      "train_shares": str(config.dataset.get("train_shares", "")) or "in proportion to their records",
      **init_record(config),
      "reference": {"render": dict(REFERENCE_RENDER), **reference_joints(predictor, reference_frame())},
      "notes": notes,
  }
  if real_frame:
    card["reference_real"] = {"file": os.path.basename(real_frame), "sha256": fileio.file_sha256(real_frame),
                              **reference_joints(predictor, media.read_image(real_frame))}
  return card


def render_readme(card: dict) -> str:
  """The model card for people (README.md), from ``model_card.json``."""
  m = card["model"]
  lines = [f"# {card['name']}", "",
           f"A {m['name']} (width {m['width']:g}, input {m['input_size']} px, {m['params']:,} params) published "
           f"{card['published']} from step {card['step']} of `{card['source_workdir']}`.", "",
           "```", f"flowpose predict --model {card['name']} VIDEO_OR_IMAGES --out OUT",
           f"python -c \"import flowpose_jax; p = flowpose_jax.load('{card['name']}')\"",
           f"flowpose train --config CONFIG --workdir W --config.init_from={card['name']}   # continue from it",
           "```", "", "## Training data", "", "| set | split | terms |", "|---|---|---|"]
  lines += [f"| {d['name']} | {d['split']} | {d['terms']} |" for d in card["data"]]
  lines += [f"| {d['name']} | {d['split']} (through the weights it started from) | {d['terms']} |"
            for d in card.get("init_from_data", []) if d not in card["data"]]
  started = f"`{card['init_from'] or 'random'}`"
  if card.get("init_from_params_sha256"):
    started += (f" (the shipped model of {card.get('init_from_published', '?')}, step {card.get('init_from_step')}, "
                f"params SHA-256 `{card['init_from_params_sha256']}`)")
  lines += ["", f"Shares of an epoch (in that order): {card['train_shares']}. Weights started from: {started}.", "",
            "## How it was trained", "", "```", card["command"] or "(not recorded)", "```", "",
            f"Commit: `{card['commit'] or 'not a git checkout'}`; params SHA-256 `{card[workdir_lib.DIGEST_KEY]}`.",
            ""]
  if card.get("notes"):
    lines += ["## Measured", "", card["notes"].strip(), ""]
  lines += ["## Reference joints", "",
            "`tests/test_shipped_models.py` checks that the model gives these joints again "
            "(rendered frame: `publish.reference_frame()`"
            + (f"; real frame: `{card['reference_real']['file']}`)" if "reference_real" in card else ")") + ".", ""]
  return "\n".join(lines)


def publish(workdir: str, name: str, out_root: str = workdir_lib.SHIPPED_ROOT, *, step: int | None = None,
            command: str = "", notes_file: str | None = None, real_frame: str | None = None,
            overwrite: bool = False) -> str:
  """Writes ``out_root/name``: the workdir's params (latest or ``step``) as a shipped model.

  Args:
    workdir: a training workdir (or a shipped model, to republish it).
    name: the model's name (a folder name: letters, digits, "_", "-", ".").
    out_root: where to put it; default the package's ``pretrained`` folder.
    command: the command that trained it, for the card.
    notes_file: markdown (measured tables, with their commands) for the card's "Measured".
    real_frame: an image whose joints the card records (``reference_real``).
    overwrite: replace an existing model of that name.

  Returns:
    the model's folder.
  """
  from flowpose_jax import inference  # pylint: disable=import-outside-toplevel
  from flowpose_jax.export import weights  # pylint: disable=import-outside-toplevel
  import safetensors.numpy  # pylint: disable=import-outside-toplevel
  if not name or not all(c.isalnum() or c in "_-." for c in name) or name.startswith("."):
    raise InputError(f"model name {name!r}: use letters, digits, '_', '-' and '.' (it names a folder)")
  dest = os.path.join(out_root, name)
  if os.path.exists(dest) and not overwrite:
    raise InputError(f"{dest} exists: pass --overwrite to replace it, or choose another --name")
  notes = ""
  if notes_file:
    with open(notes_file, encoding="utf-8") as f:
      notes = f.read()
  trained = workdir_lib.load(workdir, step)
  predictor = inference.Predictor(trained.config, trained.graphdef, trained.params)
  digest = workdir_lib.params_digest(trained.params)
  card = _card(trained, predictor, workdir, name, command=command, notes=notes, real_frame=real_frame,
               digest=digest)
  with fileio.atomic_folder(dest) as tmp:
    safetensors.numpy.save_file(weights.flatten(trained.params), os.path.join(tmp, workdir_lib.WEIGHTS_FILE),
                                metadata={workdir_lib.DIGEST_KEY: digest})
    size = os.path.getsize(os.path.join(tmp, workdir_lib.WEIGHTS_FILE))
    if size > SIZE_LIMIT_BYTES:
      raise InputError(f"{workdir}: its weights take {size / 2**20:.1f} MiB, over the {SIZE_LIMIT_BYTES // 2**20} "
                       f"MiB a shipped model may take; publish a smaller model (model.width)")
    card["weights_bytes"] = size
    with open(os.path.join(tmp, workdir_lib.CONFIG_FILE), "w", encoding="utf-8") as f:
      f.write(trained.config.to_json_best_effort(indent=2))
    with open(os.path.join(tmp, workdir_lib.CARD_FILE), "w", encoding="utf-8") as f:
      json.dump(card, f, indent=1)
    with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as f:
      f.write(render_readme(card))
  return dest


__all__ = ["init_record", "publish", "render_readme", "reference_frame", "reference_joints", "training_sets", "data_terms",
           "REFERENCE_RENDER", "SIZE_LIMIT_BYTES"]
