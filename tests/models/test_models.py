import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from flowpose_jax.models import FUSION_VARIANTS, HeatmapNet, final_heatmaps


def _count(model):
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def test_paper_size_parameter_count_and_shapes():
  model = nnx.eval_shape(lambda: HeatmapNet(rngs=nnx.Rngs(0)))
  assert _count(model) == 17_615_886  # conv1-8 14,299,911 + release fusion 3,315,975
  out = nnx.eval_shape(lambda m: m(jnp.zeros((2, 256, 256, 3), jnp.uint8)), model)
  assert out["heatmap"].shape == (2, 64, 64, 7)
  assert out["fusion"].shape == (2, 64, 64, 7)


def test_spatialnet_alone_and_slides_variant():
  assert _count(nnx.eval_shape(lambda: HeatmapNet(fusion="none", rngs=nnx.Rngs(0)))) == 14_299_911
  slides = nnx.eval_shape(lambda: HeatmapNet(fusion="slides", rngs=nnx.Rngs(0)))
  kernels = [c.kernel.shape for c in slides.fusion.hidden]
  assert [(k[0], k[-1]) for k in kernels] == list(FUSION_VARIANTS["slides"])


def test_unknown_fusion_variant():
  with pytest.raises(ValueError, match="release"):
    HeatmapNet(fusion="bogus", width=0.125, rngs=nnx.Rngs(0))


def test_small_model_every_param_gets_gradient():
  model = HeatmapNet(width=0.125, rngs=nnx.Rngs(0))
  graphdef, params = nnx.split(model)
  images = jax.random.randint(jax.random.key(1), (2, 32, 32, 3), 0, 255).astype(jnp.uint8)

  def loss(p):
    out = nnx.merge(graphdef, p)(images)
    return sum(jnp.mean(jnp.square(v - 0.5)) for v in out.values())

  grads = jax.grad(loss)(params)
  for path, g in jax.tree_util.tree_leaves_with_path(grads):
    assert float(jnp.abs(g).max()) > 0, f"no gradient for {jax.tree_util.keystr(path)}"
  assert final_heatmaps(nnx.merge(graphdef, params)(images)).shape == (2, 8, 8, 7)


def test_bfloat16_compute_keeps_float32_params_and_outputs():
  model = HeatmapNet(width=0.125, dtype="bfloat16", rngs=nnx.Rngs(0))
  out = model(np.zeros((1, 32, 32, 3), np.uint8))
  assert out["fusion"].dtype == jnp.float32
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def test_coordinate_net_shapes_parameters_and_gradients():
  from flowpose_jax import heatmaps, losses
  from flowpose_jax.models import CoordinateNet
  paper = nnx.eval_shape(lambda: CoordinateNet(rngs=nnx.Rngs(0)))
  assert _count(paper) == 58_338_702  # AlexNet's convs + fc 4096, 4096, 14
  for size in (64, 256):  # the fc sizes do not depend on the input side
    out = nnx.eval_shape(lambda m, s=size: m(jnp.zeros((2, s, s, 3), jnp.uint8)), paper)
    assert out["coords"].shape == (2, 7, 2)
  model = CoordinateNet(width=0.125, rngs=nnx.Rngs(0))
  graphdef, params = nnx.split(model)
  images = jax.random.randint(jax.random.key(1), (2, 64, 64, 3), 0, 255).astype(jnp.uint8)
  coords = nnx.merge(graphdef, params)(images)["coords"]
  assert np.abs(np.asarray(coords) - 7.5).max() < 1.0  # starts near the centre of the 16x16 grid
  target = jnp.full((2, 7, 2), 3.0)
  grads = jax.grad(lambda p: losses.coordinate_l2(nnx.merge(graphdef, p)(images)["coords"], target,
                                                  jnp.ones((2, 7)), 16)[0])(params)
  for path, g in jax.tree_util.tree_leaves_with_path(grads):
    assert float(jnp.abs(g).max()) > 0, f"no gradient for {jax.tree_util.keystr(path)}"
  # Read through the shared heatmap decoder, the rendered coordinates come back exactly.
  hm = final_heatmaps({"coords": coords}, size=16)
  decoded, _ = heatmaps.decode(np.asarray(hm))
  np.testing.assert_allclose(decoded, np.asarray(coords), atol=0.05)


@pytest.mark.parametrize("name", ["heatmap_net", "coordinate_net"])
def test_remat_changes_neither_outputs_nor_gradients(name):
  from flowpose_jax.models import MODELS
  kwargs = {"width": 0.125}
  nets = [MODELS[name](rngs=nnx.Rngs(0), remat=remat, **kwargs) for remat in (False, True)]
  images = jax.random.randint(jax.random.key(2), (2, 64, 64, 3), 0, 255).astype(jnp.uint8)
  results = []
  for net in nets:
    graphdef, params = nnx.split(net)
    loss = lambda p, g=graphdef: sum(jnp.sum(v ** 2) for v in nnx.merge(g, p)(images).values())
    results.append((loss(params), jax.grad(loss)(params)))
  np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
  for a, b in zip(jax.tree.leaves(results[0][1]), jax.tree.leaves(results[1][1])):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fusion", ["release", "none"])
def test_stride_2_head_starts_as_the_stride_4_maps_upsampled_and_learns(fusion):
  """output_stride=2: every output at S/2; with the stride-4 model's params and the refine head as
  initialised (zero last kernel) the outputs are exactly the stride-4 ones, bilinearly upsampled; the
  refine head's first layer gets a gradient once its last is not zero."""
  from flowpose_jax.models.heatmap_net import REFINE_KEY, upsample2
  coarse = HeatmapNet(width=0.125, fusion=fusion, rngs=nnx.Rngs(0))
  fine = HeatmapNet(width=0.125, fusion=fusion, output_stride=2, rngs=nnx.Rngs(1))
  images = jax.random.randint(jax.random.key(1), (2, 32, 32, 3), 0, 255).astype(jnp.uint8)
  graphdef, params = nnx.split(fine)
  params = nnx.to_pure_dict(params)
  coarse_params = nnx.to_pure_dict(nnx.state(coarse))
  assert set(params) - set(coarse_params) == {REFINE_KEY}
  params = dict(coarse_params, **{REFINE_KEY: params[REFINE_KEY]})
  abstract = nnx.state(fine)
  nnx.replace_by_pure_dict(abstract, params)
  out = nnx.merge(graphdef, abstract)(images)
  reference = coarse(images)
  assert set(out) == set(reference)
  for key, maps in out.items():
    assert maps.shape == (2, 16, 16, 7)
    np.testing.assert_allclose(maps, upsample2(reference[key]), atol=1e-5)
  nudged = jax.tree.map(lambda x: x + 0.01, nnx.to_pure_dict(abstract))

  def loss(p):
    state = nnx.state(fine)
    nnx.replace_by_pure_dict(state, p)
    return sum(jnp.mean(jnp.square(v - 0.5)) for v in nnx.merge(graphdef, state)(images).values())

  grads = jax.grad(loss)(nudged)
  for path, g in jax.tree_util.tree_leaves_with_path(grads[REFINE_KEY]):
    assert float(jnp.abs(g).max()) > 0, f"no gradient for refine{jax.tree_util.keystr(path)}"
  with pytest.raises(ValueError, match="output_stride"):
    HeatmapNet(width=0.125, output_stride=3, rngs=nnx.Rngs(0))


def test_upsample2_keeps_pixel_centres_aligned():
  """A Gaussian peak at stride-4 heatmap px u decodes at 2u + 0.5 after upsample2 (the same input px)."""
  from flowpose_jax import heatmaps
  from flowpose_jax.models.heatmap_net import upsample2
  joints = np.array([[[5.3, 7.6]]], np.float32)
  maps = heatmaps.encode(joints, np.ones((1, 1), bool), 16, sigma=2.0)
  up = np.asarray(upsample2(jnp.asarray(maps)))
  found, _ = heatmaps.decode(up)
  np.testing.assert_allclose(found[0, 0], 2 * joints[0, 0] + 0.5, atol=0.1)


def test_upsample2_is_jax_linear_resize():
  from flowpose_jax.models.heatmap_net import upsample2
  x = jax.random.normal(jax.random.key(0), (2, 5, 7, 3))
  np.testing.assert_allclose(upsample2(x), jax.image.resize(x, (2, 10, 14, 3), "linear"), atol=1e-6)
