"""orbax checkpoints: train state, data-iterator state and run metadata.

Layout (``flowpose_jax.workdir``): ``<workdir>/checkpoints/<step>/{state,data,meta}``. ``state`` is the
``TrainState`` as a dict of arrays; ``data`` is the grain iterator's state, one
file per process (so a resumed run sees exactly the batches an uninterrupted
run would); ``meta`` holds the resolved config, a few facts and the params'
SHA-256 (JSON).

Every process calls ``save`` and ``restore`` (orbax writes each array once and
agrees on the step across processes). orbax writes a step into a temp folder
and renames it when complete, so a killed process leaves no half checkpoint
under a step's name; a checkpoint that still fails to load (a truncated file)
is set aside and the previous intact one restored.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time

import grain
import jax
import orbax.checkpoint as ocp
from etils import epath
from jax.experimental import multihost_utils

from flowpose_jax import workdir as workdir_lib
from flowpose_jax.errors import FlowposeError
from flowpose_jax.train.state import TrainState

log = logging.getLogger("flowpose")


def _as_dict(state: TrainState) -> dict:
  return {"step": state.step, "params": state.params, "opt_state": state.opt_state}


class Checkpointer:
  """Thin wrapper over ``ocp.CheckpointManager`` for a workdir."""

  def __init__(self, workdir: str, max_to_keep: int = 3):
    self.workdir = workdir
    self.directory = workdir_lib.checkpoint_dir(workdir)
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                             cleanup_tmp_directories=True))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def all_steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def save(self, step: int, state: TrainState, data_iterator=None, meta: dict | None = None) -> None:
    """Starts saving ``step`` (asynchronously; ``wait`` or ``close`` finish it)."""
    meta = dict(meta or {}, **{workdir_lib.DIGEST_KEY: workdir_lib.params_digest(state.params)})
    items = {"state": ocp.args.StandardSave(_as_dict(state)), "meta": ocp.args.JsonSave(meta)}
    if data_iterator is not None:
      items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
    with self._disk_errors():  # (a failed earlier save surfaces here)
      self.manager.save(step, args=ocp.args.Composite(**items))

  def restore(self, abstract_state: TrainState, data_iterator=None) -> tuple[TrainState, dict, int]:
    """Restores the latest intact checkpoint into the shapes/shardings of ``abstract_state``.

    ``data_iterator`` (if given) is set to the saved position in place.
    Newer checkpoints that do not load are set aside (``set_aside``), so
    training continues from the intact one and saves over their steps; when
    none loads, nothing is moved and ``UnreadableCheckpoint`` is raised.
    Returns (state, meta, step).
    """
    steps = self.all_steps()
    if not steps:
      raise FlowposeError(f"no checkpoint in {self.directory}: train first with `flowpose train`")
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, _as_dict(abstract_state))

    def restore(step: int):
      items = {"state": ocp.args.StandardRestore(target), "meta": ocp.args.JsonRestore()}
      if data_iterator is not None:
        items["data"] = grain.checkpoint.CheckpointRestore(data_iterator)
      restored = self.manager.restore(step, args=ocp.args.Composite(**items))
      return restored, restored["meta"]

    unreadable = []
    try:
      restored, meta, step = workdir_lib.first_intact(self.directory, steps, restore,
                                                      on_unreadable=lambda s, why: unreadable.append(s))
    except workdir_lib.UnreadableCheckpoint as e:
      # None is intact: move nothing, or the same command would start again from step 0.
      raise workdir_lib.UnreadableCheckpoint(
          f"{e}; nothing was moved: to start again from step 0 here, rerun with --restart (sets them aside)"
      ) from None
    if unreadable:
      self.set_aside(unreadable, "unreadable")
    s = restored["state"]
    return TrainState(step=s["step"], params=s["params"], opt_state=s["opt_state"]), meta, step

  def set_aside(self, steps: list[int], why: str) -> str:
    """Moves checkpoints ``steps`` to ``<workdir>/checkpoints_set_aside/<step>-<why>-<time>``.

    Training never resumes from them, and later saves may reuse their step
    numbers; they stay on disk for inspection. Process 0 moves them, all
    processes wait for it. Returns the folder they went to.
    """
    self.manager.wait_until_finished()
    aside = workdir_lib.path(self.workdir, workdir_lib.SET_ASIDE_DIR)
    if jax.process_index() == 0 and steps:
      aside.mkdir(parents=True, exist_ok=True)
      stamp = time.strftime("%Y%m%d-%H%M%S")
      for step in steps:
        src = epath.Path(self.directory) / str(step)
        if src.exists():
          src.rename(aside / f"{step}-{why}-{stamp}")
          log.warning("moved checkpoint step %d (%s) to %s", step, why, aside)
    if jax.process_count() > 1:
      multihost_utils.sync_global_devices(f"flowpose set_aside {steps}")
    self.manager.reload()
    return str(aside)

  def wait(self) -> None:
    """Blocks until the saves in flight are written."""
    with self._disk_errors():
      self.manager.wait_until_finished()

  def close(self) -> None:
    with self._disk_errors():
      self.manager.wait_until_finished()
      self.manager.close()

  @contextlib.contextmanager
  def _disk_errors(self):
    """A save that failed for a full or read-only disk (orbax/tensorstore report it as a ValueError
    holding the OS error code) becomes the ``OSError`` it is, naming the checkpoint folder."""
    try:
      yield
    except Exception as e:  # pylint: disable=broad-except  (re-raised unless it is a disk error)
      code = _disk_errno(str(e))
      if code is None:
        raise
      raise OSError(code, f"{os.strerror(code)}; the checkpoints before this one are intact and the same "
                          f"command resumes from them", self.directory) from None


# The OS error codes of a full or read-only disk, as tensorstore words them inside orbax's errors.
_DISK_ERRNOS = {errno.ENOSPC: "No space left on device", errno.EDQUOT: "Disk quota exceeded",
                errno.EROFS: "Read-only file system"}


def _disk_errno(message: str) -> int | None:
  """The errno of a full or read-only disk named in an exception's message, else None."""
  for code, text in _DISK_ERRNOS.items():
    if text in message or f"os_error_code='{code}'" in message:
      return code
  return None


__all__ = ["Checkpointer"]
