"""``lsp``: Leeds Sports Pose (LSP, BMVC 2010) and LSP-extended (CVPR 2011), from the user's download.

``--manual_dir`` is the published folder, the one holding ``joints.mat`` and
``images/`` (``lsp_dataset/`` from ``lsp_dataset.zip``, ``lspet_dataset/``
from ``lspet_dataset.zip``; sam.johnson.io/research/lsp.html, lspet.html).
Nothing is copied into the repository; records live in the TFDS ``data_dir``.

Configs (the layouts as published; README.md has the evidence):
  original: LSP, 2,000 images ``images/im0001.jpg`` .. ``im2000.jpg``;
    ``joints`` is 3 x 14 x 2000 (x, y, flag; joint; image). Flag 0 = visible,
    1 = occluded; occluded joints were placed by the annotators, so both are
    present. Splits: train = images 1-1000, test = images 1001-2000.
  extended: LSP-extended, 10,000 images ``images/im00001.jpg`` ..
    ``im10000.jpg``; ``joints`` is 14 x 3 x 10000 (joint; x, y, flag; image).
    Flag 1 = visible; 0 = not visible, and such joints have no location (in the
    published file one coordinate is 0 and the other negative, off the frame),
    so they are missing. Split train = all 10,000 (there is no test split).
    Labels are crowd-sourced (Amazon Mechanical Turk) and noisy.

Joints (both): 14 in ``LSP_JOINT_NAMES`` order, the person's left/right,
MATLAB 1-based px; stored 0-based (``- 1``, once, here). Our 7 (BBC Pose order,
``flowpose_jax.joints.JOINT_NAMES``): head = the midpoint of neck and head top
(missing unless both are present), the arms by name (LSP index 6 = right wrist
-> our channel 1). ``visible`` means "has a location to learn and score"
(``coco_format``'s rule: COCO v = 1 occluded-but-labelled counts, v = 0 does
not); ``occluded_full`` keeps the source's own visibility.

Features (``common.pose_features`` core plus):
  joints_full: [14, 2] float32 0-based, NaN where missing; visible_full: [14]
    bool (present); occluded_full: [14] bool (the source marks it not visible).
  box: [4] float32 x0, y0, x1, y1: the present joints' extent grown by
    ``BOX_MARGIN`` x its larger side on each side, clipped to the frame (the
    whole frame with fewer than 2 present joints).
  filename: ``imNNNN.jpg``; video_id / frame_index: -1 (still images).
Record order: image number (``disable_shuffling``); key = the image number.
"""

from __future__ import annotations

import os
import re

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from flowpose_jax import joints as joints_lib
from flowpose_jax.data_builders import common
from flowpose_jax.errors import InputError

LSP_JOINT_NAMES = joints_lib.LSP_JOINT_NAMES
NUM_LSP_JOINTS = len(LSP_JOINT_NAMES)
NECK, HEAD_TOP = LSP_JOINT_NAMES.index("neck"), LSP_JOINT_NAMES.index("head_top")
# Our joints 1..6 (right_wrist .. left_shoulder) carry LSP's names: (6, 11, 7, 10, 8, 9).
ARM_INDICES: tuple[int, ...] = tuple(LSP_JOINT_NAMES.index(n) for n in joints_lib.JOINT_NAMES[1:])
JOINTS_FILE = "joints.mat"
IMAGES = "images"
BOX_MARGIN = 0.15  # fraction of the joints' box's larger side added on each side (as realpose).
LAYOUTS: dict[tuple[int, int], str] = {(3, NUM_LSP_JOINTS): "LSP's 3 x 14 x N (lsp/original)",
                                       (NUM_LSP_JOINTS, 3): "LSP-extended's 14 x 3 x N (lsp/extended)"}


class LspConfig(tfds.core.BuilderConfig):
  """One published release.

  Attributes:
    layout: the first two dimensions of ``joints`` as published: (3, 14) or (14, 3).
    visible_flag: the flag value that means "visible" (LSP 0, LSP-extended 1).
    occluded_located: whether joints flagged not visible still have a location.
    digits: zero padding of the image numbers (``im0001.jpg``: 4).
    splits: split name -> (first, stop) 0-based image indices, stop None = the
      last image; together they cover every image of the release.
    folder: the published folder's name, for messages.
  """

  def __init__(self, *, layout: tuple[int, int], visible_flag: int, occluded_located: bool, digits: int,
               splits: dict[str, tuple[int, int | None]], folder: str, **kwargs):
    super().__init__(**kwargs)
    self.layout = layout
    self.visible_flag = visible_flag
    self.occluded_located = occluded_located
    self.digits = digits
    self.splits = splits
    self.folder = folder

  def image_name(self, index: int) -> str:
    """The file name of 0-based image ``index`` (``im0001.jpg`` for 0 in LSP)."""
    return f"im{index + 1:0{self.digits}d}.jpg"

  @property
  def hint(self) -> str:
    return (f"pass --manual_dir = the published {self.folder}/ folder holding {JOINTS_FILE} and {IMAGES}/ "
            f"(data_builders/lsp/README.md)")


def read_joints(path, cfg: LspConfig) -> tuple[np.ndarray, np.ndarray]:
  """``joints.mat`` in ``cfg``'s layout -> 0-based coordinates and the raw flags.

  Returns:
    xy: [N, 14, 2] float64 (x, y) px, 0-based (the file's 1-based values - 1), every joint as stored.
    flags: [N, 14] float64, the file's third row/column.
  """
  import scipy.io  # pylint: disable=import-outside-toplevel
  try:
    mat = scipy.io.loadmat(os.fspath(path))
  except Exception as e:  # scipy raises ValueError/TypeError/OSError/MatReadError on bad files.
    raise InputError(f"{path}: not a readable MATLAB file ({type(e).__name__}: {str(e)[:80]}); "
                     f"it may be truncated: restore it from the {cfg.folder} download") from None
  if "joints" not in mat:
    found = sorted(k for k in mat if not k.startswith("__"))
    raise InputError(f"{path}: no variable 'joints' (found {found}); this is not LSP's {JOINTS_FILE}: "
                     f"{cfg.hint}")
  arr = np.asarray(mat["joints"], np.float64)
  if arr.ndim == 2:  # MATLAB drops a trailing singleton: one image.
    arr = arr[..., None]
  if arr.ndim != 3 or arr.shape[:2] != cfg.layout:
    other = LAYOUTS.get(arr.shape[:2]) if arr.ndim == 3 else None
    fix = (f"that is {other}: build that config from this folder" if other
           else f"neither {' nor '.join(LAYOUTS.values())}: restore the published {JOINTS_FILE}")
    raise InputError(f"{path}: 'joints' has shape {arr.shape}, expected {LAYOUTS[cfg.layout]}; {fix}")
  arr = arr.transpose(2, 1, 0) if cfg.layout == (3, NUM_LSP_JOINTS) else arr.transpose(2, 0, 1)
  flags = arr[..., 2]
  bad = np.argwhere(~np.isin(flags, (0.0, 1.0)))
  if len(bad):
    n, k = bad[0]
    raise InputError(f"{path}: image {n + 1} joint {LSP_JOINT_NAMES[k]} has flag {float(flags[n, k]):g}, "
                     f"expected 0 or 1 ({len(bad)} such flags); restore the published {JOINTS_FILE}")
  return arr[..., :2] - 1.0, flags


def convert(xy: np.ndarray, flags: np.ndarray, cfg: LspConfig) -> dict[str, np.ndarray]:
  """0-based LSP joints and flags -> our features (any leading shape ``...``).

  Args:
    xy: [..., 14, 2] 0-based px; flags: [..., 14] raw flags.

  Returns:
    joints [..., 7, 2] float32 (NaN where missing), visible [..., 7] bool, joints_full
    [..., 14, 2] float32, visible_full [..., 14] bool, occluded_full [..., 14] bool.
  """
  occluded = np.asarray(flags) != cfg.visible_flag
  full, present = joints_lib.mask_missing(xy, ~occluded | cfg.occluded_located)
  head = (full[..., NECK, :] + full[..., HEAD_TOP, :]) / 2  # NaN unless both are present
  ours, visible = joints_lib.mask_missing(np.concatenate([head[..., None, :], full[..., ARM_INDICES, :]], -2))
  return {"joints": ours, "visible": visible, "joints_full": full, "visible_full": present,
          "occluded_full": occluded}


def check_images(root: epath.Path, count: int, cfg: LspConfig) -> None:
  """``root/images`` holds exactly the ``count`` images ``joints.mat`` labels, else one InputError."""
  folder = root / IMAGES
  if not folder.is_dir():
    raise InputError(f"{folder} not found: {cfg.hint}")
  pattern = re.compile(r"^im\d+\.jpg$")
  present = {p.name for p in folder.iterdir() if pattern.match(p.name)}
  expected = [cfg.image_name(i) for i in range(count)]
  missing = [n for n in expected if n not in present]
  if missing:
    raise InputError(f"{folder / missing[0]} not found: {root / JOINTS_FILE} labels {count} images but "
                     f"{folder} holds {len(present)} ({len(missing)} missing); restore the published images")
  extra = sorted(present - set(expected))
  if extra:
    raise InputError(f"{folder} holds {len(present)} images but {root / JOINTS_FILE} labels {count} "
                     f"(first unlabelled: {extra[0]}); put the {JOINTS_FILE} published with these images "
                     f"beside them")


def check_splits(path, count: int, cfg: LspConfig) -> None:
  """The config's splits cover images 1..``count`` exactly, else an InputError naming both numbers."""
  stops = [s for _, s in cfg.splits.values()]
  stop = None if None in stops else max(stops)
  if stop is not None and stop != count:
    ranges = ", ".join(f"{name} {a + 1}-{b}" for name, (a, b) in cfg.splits.items())
    raise InputError(f"{path} labels {count} images, but lsp/{cfg.name} has {stop} ({ranges}): {cfg.hint}")


class Lsp(common.PoseBuilderMixin, tfds.core.GeneratorBasedBuilder):
  """Leeds Sports Pose / LSP-extended still images, one record per image, in our 7-joint order."""

  CODE_FILE = __file__
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [
      LspConfig(name="original", layout=(3, NUM_LSP_JOINTS), visible_flag=0, occluded_located=True, digits=4,
                splits={"train": (0, 1000), "test": (1000, 2000)}, folder="lsp_dataset",
                description="LSP: 2,000 sports images, train = 1-1000, test = 1001-2000."),
      LspConfig(name="extended", layout=(NUM_LSP_JOINTS, 3), visible_flag=1, occluded_located=False, digits=5,
                splits={"train": (0, None)}, folder="lspet_dataset",
                description="LSP-extended: 10,000 images with crowd-sourced (noisy) labels, train only."),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Download lsp_dataset.zip (config original) or lspet_dataset.zip (config
  extended) from sam.johnson.io/research/lsp.html / lspet.html, extract it
  outside the repository and pass the folder holding joints.mat and images/
  as --manual_dir.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    n = NUM_LSP_JOINTS
    extra = {"box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
             "joints_full": tfds.features.Tensor(shape=(n, 2), dtype=np.float32),
             "visible_full": tfds.features.Tensor(shape=(n,), dtype=np.bool_),
             "occluded_full": tfds.features.Tensor(shape=(n,), dtype=np.bool_),
             "filename": tfds.features.Text()}
    return tfds.core.DatasetInfo(builder=self, description=__doc__, features=common.pose_features(extra),
                                 disable_shuffling=True, homepage="http://sam.johnson.io/research/lsp.html")

  def _split_generators(self, dl_manager):
    cfg = self.builder_config
    manual = common.existing_manual_dir(dl_manager, f"lsp/{cfg.name}", cfg.hint)
    path = common.require_path(manual, JOINTS_FILE, f"lsp/{cfg.name}", cfg.hint)
    xy, flags = read_joints(path, cfg)
    check_splits(path, len(xy), cfg)
    check_images(manual, len(xy), cfg)
    return {name: self._generate_examples(manual, xy[a:b], flags[a:b], a)
            for name, (a, b) in cfg.splits.items()}

  def _generate_examples(self, root: epath.Path, xy: np.ndarray, flags: np.ndarray, first: int):
    cfg = self.builder_config
    converted = convert(xy, flags, cfg)
    for i in range(len(xy)):
      name = cfg.image_name(first + i)
      jpeg = common.image_bytes(root / IMAGES / name)
      hw = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape[:2]
      record = {k: v[i] for k, v in converted.items()}
      record["box"] = common.box_from_joints(record["joints_full"], record["visible_full"], hw,
                                             margin=BOX_MARGIN)
      record.update(image=jpeg, filename=name, video_id=np.int32(-1), frame_index=np.int32(-1))
      yield first + i + 1, record
