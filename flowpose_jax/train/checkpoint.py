"""orbax checkpoints: train state, data-iterator state and run metadata.

Layout (``flowpose_jax.workdir``): ``<workdir>/checkpoints/<step>/{state,data,meta}``. ``state`` is the
``TrainState`` as a dict of arrays; ``data`` is the grain iterator's state (so
a resumed run sees exactly the batches an uninterrupted run would); ``meta``
holds the resolved config and a few facts (JSON).
"""

from __future__ import annotations

import grain
import jax
import orbax.checkpoint as ocp

from flowpose_jax import workdir as workdir_lib
from flowpose_jax.errors import FlowposeError
from flowpose_jax.train.state import TrainState


def _as_dict(state: TrainState) -> dict:
  return {"step": state.step, "params": state.params, "opt_state": state.opt_state}


class Checkpointer:
  """Thin wrapper over ``ocp.CheckpointManager`` for a workdir."""

  def __init__(self, workdir: str, max_to_keep: int = 3):
    self.directory = workdir_lib.checkpoint_dir(workdir)
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state: TrainState, data_iterator=None, meta: dict | None = None) -> None:
    items = {"state": ocp.args.StandardSave(_as_dict(state)),
             "meta": ocp.args.JsonSave(meta or {})}
    if data_iterator is not None:
      items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
    self.manager.save(step, args=ocp.args.Composite(**items))

  def restore(self, abstract_state: TrainState, data_iterator=None, step: int | None = None
              ) -> tuple[TrainState, dict]:
    """Restores into the shapes/shardings of ``abstract_state``.

    ``data_iterator`` (if given) is set to the saved position in place.
    Returns (state, meta).
    """
    step = self.latest_step() if step is None else step
    if step is None:
      raise FlowposeError(f"no checkpoint in {self.directory}: train first with `flowpose train`")
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, _as_dict(abstract_state))
    items = {"state": ocp.args.StandardRestore(target), "meta": ocp.args.JsonRestore()}
    if data_iterator is not None:
      items["data"] = grain.checkpoint.CheckpointRestore(data_iterator)
    restored = self.manager.restore(step, args=ocp.args.Composite(**items))
    s = restored["state"]
    return TrainState(step=s["step"], params=s["params"], opt_state=s["opt_state"]), restored["meta"]

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()
