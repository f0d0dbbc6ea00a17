"""ChaLearn builder on made-up samples: nested Video struct .mat (2013), skeleton.csv (2014), mp4."""

import cv2
import numpy as np
import scipy.io
import tensorflow_datasets as tfds

from flowpose_jax.data_builders import chalearn

H, W, N = 48, 64, 12
UNTRACKED = (2,)  # frame (0-based) with an all-zero skeleton.


def _pixels(t):
  """[20, 2] 0-based pixels; WristRight (Kinect 11) at (40, 30 - t), WristLeft (7) at (10, 30)."""
  p = np.stack([np.arange(20) + 5.0, np.full(20, 20.0)], -1)
  p[10] = (40, 30 - t)
  p[6] = (10, 30)
  return p


def _video(path, brightness_step=20):
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 20, (W, H))
  for t in range(N):
    writer.write(np.full((H, W, 3), brightness_step * t % 250, np.uint8))
  writer.release()


def write_mat_sample(folder, number, variable="Video", zero_joint=None):
  """Sample<number>_data.mat with Video.Frames(i).Skeleton.PixelPosition + _color.mp4."""
  folder.mkdir(parents=True, exist_ok=True)
  skel_dtype = [(f, "O") for f in ("JointType", "WorldPosition", "WorldRotation", "PixelPosition")]
  frames = np.zeros((1, N), dtype=[("Skeleton", "O")])
  for t in range(N):
    s = np.zeros((1, 1), dtype=skel_dtype)
    px = np.zeros((20, 2)) if t in UNTRACKED else _pixels(t)
    if zero_joint is not None and t == 0:
      px[zero_joint] = 0
    s[0, 0]["JointType"] = np.array(chalearn.KINECT_JOINT_NAMES, dtype=object).reshape(20, 1)
    s[0, 0]["WorldPosition"] = np.zeros((20, 3))
    s[0, 0]["WorldRotation"] = np.zeros((20, 4))
    s[0, 0]["PixelPosition"] = px
    frames[0, t]["Skeleton"] = s
  labels = np.zeros((1, 1), dtype=[("Name", "O"), ("Begin", "O"), ("End", "O")])
  labels[0, 0]["Name"], labels[0, 0]["Begin"], labels[0, 0]["End"] = "vattene", 1.0, 5.0
  video = np.zeros((1, 1), dtype=[(f, "O") for f in
                                  ("NumFrames", "FrameRate", "MaxDepth", "Frames", "Labels")])
  video[0, 0]["NumFrames"], video[0, 0]["FrameRate"], video[0, 0]["MaxDepth"] = float(N), 20.0, 3000.0
  video[0, 0]["Frames"], video[0, 0]["Labels"] = frames, labels
  name = f"Sample{number:05d}"
  scipy.io.savemat(folder / f"{name}_data.mat", {variable: video})
  _video(folder / f"{name}_color.mp4")
  return folder / f"{name}_data.mat"


def write_csv_sample(folder, number):
  """2014 layout: Sample<number>_skeleton.csv (20 x 9 per row) + _color.mp4."""
  folder.mkdir(parents=True, exist_ok=True)
  name = f"Sample{number:04d}"
  rows = []
  for t in range(N):
    v = np.zeros((20, 9))
    if t not in UNTRACKED:
      v[:, 7:9] = _pixels(t)
      v[:, :3] = 0.5
    rows.append(",".join(f"{x:g}" for x in v.reshape(-1)))
  (folder / f"{name}_skeleton.csv").write_text("\n".join(rows) + "\n")
  _video(folder / f"{name}_color.mp4")


def write_dataset(root):
  write_mat_sample(root / "trainingdata" / "Sample00001", 1, zero_joint=0)
  write_csv_sample(root / "trainingdata" / "Sample0002", 2)
  write_mat_sample(root / "validationdata", 410)   # flat layout.
  return root


def _builder(root, config="every_frame"):
  return chalearn.Chalearn(config=config, data_dir=str(root / "tfds"), file_format="array_record")


def _prepare(tmp_path, manual, config):
  builder = _builder(tmp_path, config)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
  return builder


def test_fixture_reads_back_like_the_real_file(tmp_path):
  path = write_mat_sample(tmp_path, 1)
  # The access pattern of kschlegel/DatasetLoader (struct_as_record=True).
  video = scipy.io.loadmat(path)["Video"][0, 0]
  skel = video["Frames"][0, 3]["Skeleton"][0, 0]
  np.testing.assert_allclose(skel["PixelPosition"], _pixels(3))
  assert video["NumFrames"][0, 0] == N
  frames = chalearn.read_skeletons_mat(path)
  assert len(frames) == N and frames[2] is None
  np.testing.assert_allclose(frames[3][0], _pixels(3))


def test_build_every_frame(tmp_path):
  write_dataset(tmp_path)
  assert _prepare(tmp_path, tmp_path, "every_frame").is_prepared()
  data_dir = str(tmp_path / "tfds")
  train = tfds.data_source("chalearn/every_frame", split="train", data_dir=data_dir)
  val = tfds.data_source("chalearn/every_frame", split="validation", data_dir=data_dir)
  assert (len(train), len(val)) == (2 * (N - 1), N - 1)   # untracked frame skipped.
  ex = val[3]                                               # frames 0, 1, 3, ...: frame 4.
  assert (int(ex["video_id"]), int(ex["frame_index"])) == (410, 4)
  assert abs(ex["image"].mean() - 80) < 8                   # the video's own frame 4.
  np.testing.assert_allclose(ex["joints"][1], [40, 26])     # person's right wrist, no -1.
  np.testing.assert_allclose(ex["joints"][2], [10, 30])     # left wrist = Kinect 7.
  np.testing.assert_allclose(ex["joints"][0], _pixels(4)[3])  # head = Kinect 4.
  np.testing.assert_allclose(ex["joints"][5], _pixels(4)[8])  # R shoulder = Kinect 9.
  np.testing.assert_allclose(ex["joints_full"], _pixels(4))
  assert ex["visible"].all() and ex["visible_full"].all()
  b = ex["box"]
  assert b[0] <= 5 and b[2] >= 40 and b[1] <= 20 and b[3] >= 26
  # A lone (0, 0) joint (HipCenter in sample 1 frame 0) is missing, never (0, 0).
  first = train[0]
  assert (int(first["video_id"]), int(first["frame_index"])) == (1, 0)
  assert not first["visible_full"][0] and np.isnan(first["joints_full"][0]).all()
  # The 2014 csv sample reads the same.
  csv_ex = train[N - 1 + 2]
  assert (int(csv_ex["video_id"]), int(csv_ex["frame_index"])) == (2, 3)
  np.testing.assert_allclose(csv_ex["joints"][1], [40, 27])


def test_build_sampled(tmp_path):
  write_dataset(tmp_path)
  _prepare(tmp_path, tmp_path, "sampled")
  src = tfds.data_source("chalearn/sampled", split="validation", data_dir=str(tmp_path / "tfds"))
  assert [int(src[i]["frame_index"]) for i in range(len(src))] == [0, 10]


def test_manual_dir_missing(tmp_path, expect_failure):
  expect_failure(_builder(tmp_path), tmp_path / "nowhere", "manual_dir")


def test_annotation_file_missing(tmp_path, expect_failure):
  (tmp_path / "trainingdata").mkdir()
  (tmp_path / "trainingdata" / "Sample00001.zip").write_bytes(b"PK")
  expect_failure(_builder(tmp_path), tmp_path, "unzip each")
  (tmp_path / "trainingdata" / "Sample00001.zip").unlink()
  expect_failure(_builder(tmp_path), tmp_path, "no SampleXXXXX_data.mat")


def test_truncated_mat(tmp_path, expect_failure):
  path = write_mat_sample(tmp_path / "trainingdata", 1)
  path.write_bytes(path.read_bytes()[:200])
  expect_failure(_builder(tmp_path), tmp_path, "truncated")


def test_mat_from_another_dataset(tmp_path, expect_failure):
  write_mat_sample(tmp_path / "trainingdata", 1, variable="examples")
  expect_failure(_builder(tmp_path), tmp_path, r"no variable 'Video' \(found \['examples'\]\)")


def test_video_missing(tmp_path, expect_failure):
  write_mat_sample(tmp_path / "trainingdata", 1)
  (tmp_path / "trainingdata" / "Sample00001_color.mp4").unlink()
  expect_failure(_builder(tmp_path), tmp_path, "Sample00001_color.mp4 not found")


def test_video_fails_to_decode(tmp_path, expect_failure):
  write_mat_sample(tmp_path / "trainingdata", 1)
  (tmp_path / "trainingdata" / "Sample00001_color.mp4").write_bytes(b"\x00\x00\x00 ftyp junk")
  expect_failure(_builder(tmp_path), tmp_path, "Sample00001_color.mp4: (cannot open|ended or failed)")


def test_round_trip_to_frame_pixels(tmp_path, assert_round_trip):
  builder = _prepare(tmp_path, write_dataset(tmp_path / "m"), "every_frame")
  for split in builder.info.splits:
    assert_round_trip(tfds.data_source("chalearn/every_frame", split=split, data_dir=str(tmp_path / "tfds")))
