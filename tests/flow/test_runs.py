"""Runs of consecutive frames and the windows clipped to them (shared by data.windows, shots, inference)."""

import numpy as np

from flowpose_jax.flow import runs


def test_runs_split_at_id_changes_and_frame_gaps():
  starts, ends = runs.frame_runs(np.array([0, 0, 0, 1, 1, 4]))
  assert starts.tolist() == [0, 0, 0, 3, 3, 5] and ends.tolist() == [3, 3, 3, 5, 5, 6]
  starts, ends = runs.frame_runs([0, 0, 0, 0], frame_indices=[0, 1, 5, 6])
  assert starts.tolist() == [0, 0, 2, 2] and ends.tolist() == [2, 2, 4, 4]
  starts, ends = runs.frame_runs([0, 0, 0], frame_indices=[-1, -1, 7])  # unknown indices split nothing
  assert starts.tolist() == [0, 0, 0] and ends.tolist() == [3, 3, 3]
  assert [a.size for a in runs.frame_runs(np.zeros(0, np.int64))] == [0, 0]


def test_windows_repeat_the_edge_frames_of_their_run():
  starts, ends = runs.frame_runs([0, 0, 0, 1, 1])
  assert runs.window_indices(0, 2, starts, ends).tolist() == [0, 0, 0, 1, 2]
  assert runs.window_indices(3, 1, starts, ends).tolist() == [3, 3, 4]
  assert runs.window_bounds(1, 5, starts, ends) == (0, 3)
  causal = np.minimum(ends, np.arange(5) + 1)  # frames <= i only
  assert runs.window_indices(1, 1, starts, causal).tolist() == [0, 1, 1]
  assert runs.window_indices(2, 1, starts, ends).dtype == np.int64
