import numpy as np
import pytest
from flowpose_jax.configs.common import base_config

from flowpose_jax import heatmaps
from flowpose_jax.data import augment
from flowpose_jax.errors import ConfigError, InputError
from flowpose_jax.joints import FLIP_INDEX, NUM_JOINTS

SIZE = 64
STRIDE = 4


def _texture(rng, h, w):
  return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _blob_image(h, w, xy, sigma=2.0):
  """[h, w, 3] uint8 black frame with a bright Gaussian dot centred on ``xy``."""
  yy, xx = np.mgrid[:h, :w].astype(np.float32)
  d2 = (xx - xy[0]) ** 2 + (yy - xy[1]) ** 2
  dot = 255.0 * np.exp(-d2 / (2 * sigma**2))
  return np.repeat(np.rint(dot)[..., None], 3, -1).astype(np.uint8)


def _centroid(image):
  w = image[..., 0].astype(np.float64)
  yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
  return np.array([(w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()])


def test_flip_twice_is_identity_for_image_and_joints():
  rng = np.random.default_rng(0)
  image = _texture(rng, SIZE, SIZE)
  joints = rng.uniform(0, SIZE - 1, (NUM_JOINTS, 2)).astype(np.float32)
  visible = rng.uniform(size=NUM_JOINTS) < 0.7
  flip = augment.flip_affine(SIZE)
  im1, j1, v1 = augment.warp_example(image, joints, visible, flip, True, SIZE)
  assert not np.array_equal(im1, image)
  np.testing.assert_array_equal(im1, image[:, ::-1])
  im2, j2, v2 = augment.warp_example(im1, j1, v1, flip, True, SIZE)
  np.testing.assert_array_equal(im2, image)
  np.testing.assert_array_equal(v2, visible)
  np.testing.assert_allclose(j2[visible], joints[visible], atol=1e-5)


def test_flip_then_encode_equals_encode_then_mirror_and_swap():
  rng = np.random.default_rng(1)
  joints = rng.uniform(2, SIZE - 3, (NUM_JOINTS, 2)).astype(np.float32)
  visible = np.ones(NUM_JOINTS, bool)
  visible[3] = False
  h = SIZE // STRIDE
  _, flipped, fvis = augment.warp_example(_texture(rng, SIZE, SIZE), joints, visible,
                                          augment.flip_affine(SIZE), True, SIZE)
  after = heatmaps.encode(heatmaps.input_to_heatmap(flipped, STRIDE)[None], fvis[None], h)[0]
  before = heatmaps.encode(heatmaps.input_to_heatmap(joints, STRIDE)[None], visible[None], h)[0]
  expected = before[:, ::-1][..., list(FLIP_INDEX)]
  np.testing.assert_allclose(after, expected, atol=1e-5)
  assert after[..., FLIP_INDEX.index(3)].max() == 0.0  # the missing joint moved channel, still empty


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("joint", [0, 1])  # head maps to itself; right wrist becomes left when flipped
def test_dot_lands_on_transformed_joint(seed, joint):
  rng = np.random.default_rng(seed)
  cfg = base_config()
  cfg.input.size = 96
  cfg.augment.translate = 0.05
  h, w = 90, 160
  joints = np.full((NUM_JOINTS, 2), np.nan, np.float32)
  joints[joint] = rng.uniform([w * 0.35, h * 0.35], [w * 0.65, h * 0.65])
  visible = np.zeros(NUM_JOINTS, bool)
  visible[joint] = True
  image = _blob_image(h, w, joints[joint])
  base = augment.frame_to_input_matrix((h, w), None, cfg.input)
  aug, flip = augment.sample_affine(np.random.default_rng([seed, 1]), cfg.augment, cfg.input.size)
  matrix = augment.compose_affine(aug, base)
  out, warped, vis = augment.warp_example(image, joints, visible, matrix, flip, cfg.input.size)
  k = FLIP_INDEX[joint] if flip else joint
  assert vis.sum() == 1 and vis[k]
  assert np.all(np.isnan(np.delete(warped, k, 0)))
  # The dot's intensity centroid is sub-pixel exact (~0.01 px measured); 0.1 px
  # catches half-pixel convention slips (a flip about S instead of S - 1 is 1 px).
  assert np.abs(_centroid(out) - warped[k]).max() < 0.1


def test_flip_is_drawn_for_both_dot_tests():
  flips = [augment.sample_affine(np.random.default_rng([s, 1]), base_config().augment, SIZE)[1] for s in range(6)]
  assert any(flips) and not all(flips)


def test_missing_joints_become_nan_and_invisible():
  rng = np.random.default_rng(2)
  joints = rng.uniform(5, 50, (NUM_JOINTS, 2)).astype(np.float32)
  joints[1] = -999.0
  joints[2, 0] = np.nan
  visible = np.ones(NUM_JOINTS, bool)
  visible[4] = False
  _, out, vis = augment.warp_example(_texture(rng, 60, 60), joints, visible,
                                     augment.identity_affine(), False, SIZE)
  assert not vis[[1, 2, 4]].any() and vis[[0, 3, 5, 6]].all()
  assert np.isnan(out[[1, 2, 4]]).all()
  np.testing.assert_allclose(out[vis], joints[vis], atol=1e-5)


def test_warp_rejects_flip_flag_that_disagrees_with_matrix():
  image = np.zeros((8, 8, 3), np.uint8)
  joints = np.zeros((NUM_JOINTS, 2), np.float32)
  with pytest.raises(ValueError, match="flip"):
    augment.warp_example(image, joints, np.ones(NUM_JOINTS, bool), augment.identity_affine(), True, 8)
  with pytest.raises(ValueError, match="flip"):
    augment.warp_example(image, joints, np.ones(NUM_JOINTS, bool), augment.flip_affine(8), False, 8)


def test_sample_affine_ranges_and_determinism():
  cfg = base_config().augment
  c = (SIZE - 1) / 2
  flips = []
  for seed in range(200):
    m, flip = augment.sample_affine(np.random.default_rng(seed), cfg, SIZE)
    m2, flip2 = augment.sample_affine(np.random.default_rng(seed), cfg, SIZE)
    np.testing.assert_array_equal(m, m2)
    assert flip == flip2 == augment.is_mirrored(m)
    lin = m[:, :2] @ (augment.flip_affine(SIZE)[:, :2] if flip else np.eye(2))
    scale = np.sqrt(abs(np.linalg.det(lin)))
    assert cfg.scale[0] - 1e-5 <= scale <= cfg.scale[1] + 1e-5
    assert abs(np.rad2deg(np.arctan2(lin[1, 0], lin[0, 0]))) <= cfg.rotation + 1e-4
    centre = heatmaps.apply_affine(np.array([[c, c]]), m)[0]
    assert np.all(np.abs(centre - c) <= cfg.translate * SIZE + 1e-4)
    flips.append(flip)
  assert 0.35 < np.mean(flips) < 0.65


def test_sample_affine_disabled_is_identity():
  cfg = base_config().augment
  cfg.enabled = False
  m, flip = augment.sample_affine(np.random.default_rng(0), cfg, SIZE)
  np.testing.assert_array_equal(m, augment.identity_affine())
  assert not flip


def test_no_flip_when_flip_off():
  cfg = base_config().augment
  cfg.flip = False
  assert not any(augment.sample_affine(np.random.default_rng(s), cfg, SIZE)[1] for s in range(50))


def test_frame_to_input_matrix_modes():
  cfg = base_config().input
  np.testing.assert_array_equal(augment.frame_to_input_matrix((90, 160), None, cfg),
                                heatmaps.letterbox_matrix((90, 160), None, cfg.size))
  cfg.crop = "box"
  cfg.box_margin = 0.25
  box = np.array([40, 10, 79, 89], np.float32)  # 40 x 80 px
  m = augment.frame_to_input_matrix((90, 160), box, cfg)
  # margin 0.25 of 80 px on top and bottom -> 120 px tall box fills the input height.
  top, bottom = heatmaps.apply_affine(np.array([[60, 10 - 20 - 0.5], [60, 89 + 20 + 0.5]]), m)
  np.testing.assert_allclose([top[1], bottom[1]], [-0.5, cfg.size - 0.5], atol=1e-3)
  with pytest.raises(InputError, match="box"):
    augment.frame_to_input_matrix((90, 160), None, cfg)
  cfg.crop = "torso"
  with pytest.raises(ConfigError, match="crop"):
    augment.frame_to_input_matrix((90, 160), box, cfg)


def test_colour_jitter_deterministic_and_off_is_identity():
  rng = np.random.default_rng(3)
  image = _texture(rng, 32, 32)
  cfg = base_config().augment
  a = augment.colour_jitter(image, np.random.default_rng(7), cfg)
  b = augment.colour_jitter(image, np.random.default_rng(7), cfg)
  c = augment.colour_jitter(image, np.random.default_rng(8), cfg)
  assert a.dtype == np.uint8 and a.shape == image.shape
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  cfg.brightness = cfg.contrast = cfg.saturation = 0.0
  np.testing.assert_array_equal(augment.colour_jitter(image, np.random.default_rng(7), cfg), image)


def test_compose_affine_order():
  a = np.array([[2, 0, 1], [0, 2, 0]], np.float32)
  b = np.array([[0, -1, 0], [1, 0, 3]], np.float32)
  p = np.array([[1.0, 2.0]], np.float32)
  np.testing.assert_allclose(heatmaps.apply_affine(p, augment.compose_affine(a, b)),
                             heatmaps.apply_affine(heatmaps.apply_affine(p, b), a))


def test_joints_crop_is_the_joints_box_grown_by_its_larger_side():
  cfg = base_config().input
  cfg.crop = "joints"
  cfg.joints_margin = 0.4
  pts = np.full((NUM_JOINTS, 2), np.nan, np.float32)
  pts[:3] = [[100, 50], [200, 50], [150, 110]]  # extent 100 x 60 px; the rest missing
  m = augment.frame_to_input_matrix((405, 720), None, cfg, pts, np.ones(NUM_JOINTS, bool))
  # 40 % of the larger side (100 px) on each side: x 60..240 fills the input width.
  left, right = heatmaps.apply_affine(np.array([[60 - 0.5, 80], [240 + 0.5, 80]]), m)
  np.testing.assert_allclose([left[0], right[0]], [-0.5, cfg.size - 0.5], atol=1e-3)
  # Fewer than two joints present: the whole frame.
  one = np.full_like(pts, np.nan)
  one[0] = [100, 50]
  np.testing.assert_allclose(augment.frame_to_input_matrix((405, 720), None, cfg, one),
                             heatmaps.letterbox_matrix((405, 720), None, cfg.size))
  with pytest.raises(InputError, match="joints"):
    augment.frame_to_input_matrix((405, 720), None, cfg)


def test_degrade_blurs_and_occludes_and_is_a_no_op_when_off():
  image = _texture(np.random.default_rng(0), 64, 64)
  cfg = base_config().augment
  rng = np.random.default_rng(1)
  assert augment.degrade(image, rng, cfg) is image
  assert rng.uniform() == np.random.default_rng(1).uniform()  # nothing drawn when off
  cfg.blur, cfg.occlusion = 2.0, 1.0
  outs = [augment.degrade(image, np.random.default_rng(s), cfg) for s in range(20)]
  assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outs)
  smooth = lambda x: np.abs(np.diff(x.astype(np.float32), axis=1)).mean()  # noqa: E731
  blurred = [o for o in outs if smooth(o) < 0.7 * smooth(image)]
  assert 3 <= len(blurred) <= 17  # about BLUR_PROBABILITY of them
  counts = []  # occlusion 1.0, no blur: each output's most common colour is the occluder's
  for s in range(20):
    cfg.blur = 0.0
    o = augment.degrade(image, np.random.default_rng(s), cfg)
    _, n = np.unique(o.reshape(-1, 3), axis=0, return_counts=True)
    counts.append(n.max() / (64 * 64))
  assert min(counts) >= augment.OCCLUSION_AREA[0] * 0.9 and max(counts) <= augment.OCCLUSION_AREA[1] * 1.1
  np.testing.assert_array_equal(augment.degrade(image, np.random.default_rng(5), cfg),
                                augment.degrade(image, np.random.default_rng(5), cfg))


def test_degrade_of_a_window_occludes_every_frame_alike():
  frames = np.stack([_texture(np.random.default_rng(s), 32, 32) for s in range(3)])
  cfg = base_config().augment
  cfg.occlusion = 1.0
  out = augment.degrade(frames, np.random.default_rng(0), cfg)
  changed = np.any(out != frames, -1)
  assert changed.any()
  np.testing.assert_array_equal(changed[0], changed[1])
  np.testing.assert_array_equal(out[0][changed[0]], out[2][changed[0]])
