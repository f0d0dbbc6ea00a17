"""``flowpose predict`` loses nothing and mixes nothing up: distinct names, atomic files, partial videos
said, full or read-only output folders in one line, stale temp files cleaned, SIGTERM cleans up."""

import errno
import json
import os
import signal

import cv2
import numpy as np
import pytest

from flowpose_jax import cli, fileio, media, prediction


@pytest.fixture()
def workdir(tiny_workdir):
  return tiny_workdir


def _predict(capsys, workdir, *args) -> tuple[int, list[str], list[str]]:
  with pytest.raises(SystemExit) as e:
    cli.main(["predict", "--workdir", workdir, *args])
  captured = capsys.readouterr()
  return e.value.code, captured.out.splitlines(), captured.err.strip().splitlines()


def _image(path, seed=0):
  path.parent.mkdir(parents=True, exist_ok=True)
  cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8))
  return str(path)


def test_inputs_that_share_a_name_get_distinct_outputs(workdir, tmp_path, capsys):
  inputs = [_image(tmp_path / "a" / "x.jpg", 1), _image(tmp_path / "b" / "x.jpg", 2),
            _image(tmp_path / "b" / "x.png", 3), _image(tmp_path / "b" / "y.png", 4)]
  out = tmp_path / "out"
  code, _, err = _predict(capsys, workdir, *inputs, "--out", str(out))
  assert code == 0, err
  docs = {p: json.loads((out / p).read_text())["input"]
          for p in ("a__x.jpg.json", "b__x.jpg.json", "b__x.png.json", "y.json")}
  assert docs == {"a__x.jpg.json": inputs[0], "b__x.jpg.json": inputs[1], "b__x.png.json": inputs[2],
                  "y.json": inputs[3]}


def test_output_names_of_one_file_given_twice():
  items = [media.InputItem("image", "/d/x.jpg", ("/d/x.jpg",))] * 2
  assert prediction.output_names(items) == ["x.jpg", "x.jpg__2"]


def _damaged_video(path, frames=30):
  rng = np.random.default_rng(0)
  media.write_video(str(path), rng.integers(0, 256, (frames, 48, 64, 3), dtype=np.uint8), 10.0)
  data = bytearray(path.read_bytes())
  start, stop = int(len(data) * 0.4), int(len(data) * 0.6)
  data[start:stop] = bytes(stop - start)
  path.write_bytes(bytes(data))


def test_a_damaged_video_is_written_as_partial_and_said(workdir, tmp_path, capsys):
  video = tmp_path / "clip.mp4"
  _damaged_video(video)
  out = tmp_path / "out"
  code, _, err = _predict(capsys, workdir, str(video), "--out", str(out))
  doc = json.loads((out / "clip.json").read_text())
  if not doc["partial"]:
    pytest.skip("this OpenCV build decoded every frame of the damaged video")
  read = len(doc["frames"])
  assert code == 1 and read < 30
  assert len(err) == 1 and err[0].startswith(f"flowpose: partial {video}: video ended after {read} of 30 frames")
  assert doc["frames_missing"] == [[read, 29]]


@pytest.mark.parametrize("code_, text", [(errno.ENOSPC, "No space left on device"),
                                         (errno.EROFS, "Read-only file system")])
def test_a_full_or_read_only_output_folder_is_one_line_and_leaves_no_file(workdir, tmp_path, capsys,
                                                                            monkeypatch, code_, text):
  def fail(path, *args):
    raise OSError(code_, os.strerror(code_), path)

  monkeypatch.setattr(media, "write_image", fail)  # the overlay, after the JSON and CSV
  out = tmp_path / "out"
  code, _, err = _predict(capsys, workdir, _image(tmp_path / "x.jpg"), "--out", str(out))
  assert code == 2 and len(err) == 1, err
  assert err[0].startswith(f"flowpose: error: cannot write {out / 'x_overlay.jpg'}: {text}; free space")
  assert sorted(os.listdir(out)) == ["x.csv", "x.json"]  # whole files only: no temp, no 0-byte overlay


def test_a_video_that_does_not_read_back_whole_is_not_kept(tmp_path):
  path = tmp_path / "v.mp4"
  media.write_video(str(path), np.zeros((5, 32, 32, 3), np.uint8), 5.0)
  path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # as a full disk leaves it
  with pytest.raises(OSError, match="does not read back"):
    media._check_written(str(path), "v.mp4", 5)  # pylint: disable=protected-access


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
  dead = tmp_path / f".x_overlay.mp4{fileio.TEMP_MARK}999999999-abc.mp4"
  mine = tmp_path / f".y.json{fileio.TEMP_MARK}{os.getpid()}-abc.json"
  other = tmp_path / "keep.json"
  for p in (dead, mine, other):
    p.write_text("")
  assert fileio.remove_stale_temps(tmp_path) == [str(dead)]
  assert sorted(os.listdir(tmp_path)) == sorted([mine.name, other.name])


def test_sigterm_during_predict_interrupts_so_clean_up_runs():
  before = signal.getsignal(signal.SIGTERM)
  cleaned = []
  with pytest.raises(KeyboardInterrupt):
    with cli._sigterm_as_interrupt():  # pylint: disable=protected-access
      try:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between bytecodes
          pass
      finally:
        cleaned.append(True)
  assert cleaned and signal.getsignal(signal.SIGTERM) == before


def test_an_interrupted_predict_says_what_it_keeps(workdir, tmp_path, capsys, monkeypatch):
  from flowpose_jax import jobs  # pylint: disable=import-outside-toplevel

  def interrupted(*args, **kwargs):
    raise KeyboardInterrupt

  monkeypatch.setattr(jobs, "predict_paths", interrupted)
  code, _, err = _predict(capsys, workdir, _image(tmp_path / "x.jpg"), "--out", str(tmp_path / "out"))
  assert code == 130 and err == ["flowpose: interrupted (inputs already written are kept; none is half-written)"]
