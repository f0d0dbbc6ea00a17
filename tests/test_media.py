"""Image/video reading and writing: round trips and clear errors."""

import os
import warnings

import cv2
import numpy as np
import pytest

from flowpose_jax import media
from flowpose_jax.errors import InputError

# MJPG/mp4v are lossy: mean absolute error per channel on smooth test frames.
VIDEO_TOLERANCE = 8.0
JPEG_TOLERANCE = 8.0


def _frames(num=10, height=48, width=64):
  """[T, H, W, 3] uint8 with a moving green box and per-frame red level."""
  frames = np.zeros((num, height, width, 3), np.uint8)
  for t in range(num):
    frames[t, :, :, 0] = 20 * t
    frames[t, 10:30, 5 + 2 * t:25 + 2 * t] = (0, 255, 0)
  return frames


def _image(height=40, width=56):
  yy, xx = np.mgrid[:height, :width]
  return np.stack([xx * 4, yy * 5, np.full_like(xx, 128)], -1).astype(np.uint8)


@pytest.mark.parametrize("ext, tol", [(".png", 0.0), (".jpg", JPEG_TOLERANCE)])
def test_image_round_trip_is_rgb(tmp_path, ext, tol):
  image = _image()
  path = str(tmp_path / f"a{ext}")
  media.write_image(path, image)
  back = media.read_image(path)
  assert back.dtype == np.uint8 and back.shape == image.shape
  assert np.abs(back.astype(int) - image).mean() <= tol
  # Channel order: the red ramp stays in channel 0.
  assert np.corrcoef(back[..., 0].ravel(), image[..., 0].ravel())[0, 1] > 0.99
  assert os.listdir(tmp_path) == [f"a{ext}"]


def test_grey_and_rgba_become_rgb(tmp_path):
  grey = np.arange(100, dtype=np.uint8).reshape(10, 10)
  cv2.imwrite(str(tmp_path / "g.png"), grey)
  rgba = np.zeros((10, 10, 4), np.uint8)
  rgba[..., 2] = 200  # red in BGRA
  rgba[..., 3] = 255
  cv2.imwrite(str(tmp_path / "a.png"), rgba)
  g = media.read_image(str(tmp_path / "g.png"))
  a = media.read_image(str(tmp_path / "a.png"))
  assert g.shape == (10, 10, 3) and np.all(g[..., 0] == grey)
  assert a.shape == (10, 10, 3) and np.all(a[..., 0] == 200) and np.all(a[..., 2] == 0)


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_image_raises_naming_file(tmp_path, ext):
  path = tmp_path / f"cut{ext}"
  media.write_image(str(path), _image(120, 160))
  data = path.read_bytes()
  path.write_bytes(data[:len(data) * 2 // 3])
  with pytest.raises(InputError, match=f"cut{ext}.*truncated"):
    media.read_image(str(path))


def test_missing_empty_and_garbage_images(tmp_path):
  with pytest.raises(InputError, match="nope.jpg.*no such file"):
    media.read_image(str(tmp_path / "nope.jpg"))
  (tmp_path / "empty.png").write_bytes(b"")
  with pytest.raises(InputError, match="empty.png.*empty"):
    media.read_image(str(tmp_path / "empty.png"))
  (tmp_path / "junk.jpg").write_bytes(np.random.default_rng(0).bytes(500))
  with pytest.raises(InputError, match="junk.jpg.*not a readable image"):
    media.read_image(str(tmp_path / "junk.jpg"))


@pytest.mark.parametrize("ext", [".avi", ".mp4"])
def test_video_round_trip(tmp_path, ext):
  frames = _frames()
  path = str(tmp_path / f"v{ext}")
  media.write_video(path, frames, fps=10)
  back, fps = media.read_video(path)
  assert back.shape == frames.shape and back.dtype == np.uint8
  assert fps == pytest.approx(10)
  assert np.abs(back.astype(int) - frames).mean() < VIDEO_TOLERANCE
  assert media.read_video(path, max_frames=4)[0].shape[0] == 4
  assert os.listdir(tmp_path) == [f"v{ext}"]


def test_truncated_video_warns_or_raises(tmp_path):
  path = tmp_path / "v.avi"
  media.write_video(str(path), _frames(12), fps=10)
  data = path.read_bytes()
  path.write_bytes(data[:len(data) // 2])
  with pytest.warns(UserWarning, match=r"v.avi: video ended after (\d+) of 12 frames.*--max_frames \1\b") as record:
    frames, _ = media.read_video(str(path))
  assert 0 < len(frames) < 12
  assert f"--max_frames {len(frames)}" in str(record[0].message)
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # the frames before the damage read without a warning
    assert len(media.read_video(str(path), max_frames=len(frames))[0]) == len(frames)
  with pytest.raises(InputError, match="of 12 frames"):
    media.read_video(str(path), strict=True)


def test_corrupt_and_missing_video(tmp_path):
  path = tmp_path / "random.mp4"
  path.write_bytes(np.random.default_rng(0).bytes(5000))
  with pytest.raises(InputError, match="random.mp4"):
    media.read_video(str(path))
  with pytest.raises(InputError, match="gone.mp4.*no such file"):
    media.read_video(str(tmp_path / "gone.mp4"))


def test_failed_write_keeps_earlier_file(tmp_path):
  path = tmp_path / "out.avi"
  media.write_video(str(path), _frames(), fps=10)
  good = path.read_bytes()
  with pytest.raises(ValueError):
    media.write_video(str(path), np.zeros((3, 8, 8), np.uint8), fps=10)
  with pytest.raises(ValueError):
    media.write_video(str(path), _frames().astype(np.float32), fps=10)
  with pytest.raises(InputError, match="out.xyz"):
    media.write_video(str(tmp_path / "out.xyz"), _frames(), fps=10)
  assert path.read_bytes() == good
  assert sorted(os.listdir(tmp_path)) == ["out.avi"]


def test_resolve_input_kinds_natural_sort_and_read_item(tmp_path):
  folder = tmp_path / "clip"
  folder.mkdir()
  for i in (10, 2, 1, 33):
    media.write_image(str(folder / f"{i}.jpg"), _image())
  (folder / "notes.txt").write_text("ignored")
  media.write_image(str(tmp_path / "one.png"), _image())
  media.write_video(str(tmp_path / "v.avi"), _frames(3), fps=10)
  items = [media.resolve_input(str(p)) for p in (tmp_path / "one.png", folder, tmp_path / "v.avi")]
  assert [i.kind for i in items] == ["image", "frames", "video"]
  assert [os.path.basename(f) for f in items[1].frames] == ["1.jpg", "2.jpg", "10.jpg", "33.jpg"]
  assert items[1].name == "clip" and items[2].name == "v"
  assert [len(media.read_item(i)[0]) for i in items] == [1, 4, 3]
  assert [len(media.read_item(i, max_frames=2)[0]) for i in items] == [1, 2, 2]
  assert media.read_item(items[2])[1] == pytest.approx(10) and media.read_item(items[1])[1] == media.DEFAULT_FPS
  assert all(f.shape == (40, 56, 3) and f.dtype == np.uint8 for f in media.read_item(items[1])[0])


def test_resolve_input_errors_list_what_is_accepted(tmp_path):
  (tmp_path / "pose.gif").write_bytes(b"GIF89a")
  with pytest.raises(InputError, match=r"pose.gif: unknown extension '.gif'.*\.jpg.*\.mp4"):
    media.resolve_input(str(tmp_path / "pose.gif"))
  with pytest.raises(InputError, match="missing.mp4: no such file or folder"):
    media.resolve_input(str(tmp_path / "missing.mp4"))
  (tmp_path / "empty").mkdir()
  with pytest.raises(InputError, match="empty: folder holds no images"):
    media.resolve_input(str(tmp_path / "empty"))
