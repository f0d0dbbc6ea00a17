"""Shared scaffolding of the dataset-builder tests."""

import pytest
import tensorflow_datasets as tfds

from flowpose_jax.errors import InputError


@pytest.fixture()
def expect_failure():
  """``expect_failure(builder, manual, match)``: ``builder.download_and_prepare`` from
  ``manual`` raises InputError matching ``match`` and leaves the builder unprepared."""

  def check(builder, manual, match):
    with pytest.raises(InputError, match=match):
      builder.download_and_prepare(
          download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    assert not builder.is_prepared()

  return check


@pytest.fixture()
def assert_round_trip():
  """``assert_round_trip(source)``: records -> grain eval batches (person-box crop)
  -> perfect heatmaps -> joints back in the original frame's pixels (0.1 px)."""
  import numpy as np

  from flowpose_jax.configs import tiny
  from flowpose_jax.data import pipeline
  from flowpose_jax.heatmaps import decode_to_frame as frame_joints_from_heatmaps

  def check(source):
    config = tiny.get_config()
    config.input.crop = "box"
    records = [source[i] for i in range(len(source))]
    checked = 0
    for b, batch in enumerate(pipeline.make_eval_batches(source, config, batch_size=4)):
      got, _ = frame_joints_from_heatmaps(batch["targets"], batch["matrix"], config.input.stride)
      want = np.stack([r["joints"] for r in records[4 * b:4 * b + 4]])
      n = len(want)
      ok = (batch["weights"][:n] > 0)
      np.testing.assert_allclose(got[:n][ok], want[ok], atol=0.1)
      checked += int(ok.sum())
    assert checked > 0

  return check


@pytest.fixture()
def take():
  """``take(iterator, n)``: the next n items."""
  return lambda it, n: [next(it) for _ in range(n)]


@pytest.fixture()
def assert_same_batches():
  """``assert_same_batches(a, b)``: two lists of batches are identical."""
  import numpy as np

  def check(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
      assert x.keys() == y.keys()
      for k in x:
        np.testing.assert_array_equal(x[k], y[k], err_msg=k)

  return check
