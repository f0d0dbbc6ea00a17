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
