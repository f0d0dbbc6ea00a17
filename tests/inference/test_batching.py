"""Bucketed batches: a few static shapes, padding that never reaches the caller."""

import numpy as np

from flowpose_jax.inference import batching


def test_bucket_chunks_pad_to_the_smallest_bucket_that_fits():
  assert batching.batch_buckets(16) == (1, 2, 4, 8, 16)
  assert batching.batch_buckets(12) == (1, 2, 4, 8, 12)
  assert batching.bucket_chunks(1, 16) == [(0, 1, 1)]
  assert batching.bucket_chunks(5, 16) == [(0, 5, 8)]
  assert batching.bucket_chunks(37, 16) == [(0, 16, 16), (16, 32, 16), (32, 37, 8)]
  assert batching.bucket_chunks(0, 16) == []


def test_run_bucketed_pads_with_zeros_and_returns_the_real_rows():
  seen = []

  def fn(chunk):
    seen.append(chunk.copy())
    return chunk * 2

  rows = np.arange(1, 6, dtype=np.float32)[:, None]  # 5 rows, none zero
  out = batching.run_bucketed(fn, rows, batch_size=4)
  assert [len(c) for c in seen] == [4, 1] and [len(o) for o in out] == [4, 1]
  np.testing.assert_array_equal(np.concatenate(out), rows * 2)
  padded = batching.pad_rows(rows[:3], 4)
  assert padded.shape == (4, 1) and padded.dtype == rows.dtype and padded[3, 0] == 0
  np.testing.assert_array_equal(padded[:3], rows[:3])
  assert batching.pad_rows(rows, 5) is rows
