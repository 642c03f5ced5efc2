"""DVAE++ (Sec. 6, Table 3): every preset at tiny width, the local KL, the
multi-scale likelihood's normalization, the discretized logistic mixture, KL
balancing, the Fig. 4 sampling layout and the binaries."""

import collections
import itertools
import json
import logging
import os

import keras
import numpy as np
import pytest
from scipy import special
from scipy import stats
import tensorflow as tf

from dvae_tf import data
from dvae_tf.networks import kl_balancing
from dvae_tf.math import latents
from dvae_tf import models
from dvae_tf import presets
from dvae_tf.distributions import discretized_logistic_mixture
from dvae_tf.models import multiscale_decoder
from dvae_tf.models import pixel_likelihoods
from dvae_tf import sampling
from dvae_tf.networks.pyramid import ImagePyramid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tiny width: every stage 4 channels, 1 local group, a few short chains.
TINY = dict(channels=4, num_local_groups=1, num_chains=8, num_gibbs_sweeps=1)


def randomize(model, rng, scale=0.3):
  """Random weights everywhere (zero-initialized layers included)."""
  for v in model.trainable_variables:
    v.assign(rng.normal(0., scale, v.shape).astype(np.float32))


def tiny_model(rng, **config):
  """A DVAE++ for 28x28 binary images at tiny width, with random weights."""
  config = models.DVAEppConfig(**dict(TINY, **config))
  model = models.build_model(config, np.full([28, 28, 1], 0.3, np.float32))
  model.build()
  randomize(model, rng)
  return model


def some_images(rng, shape, n, binary=True):
  if binary:
    return (rng.uniform(size=(n,) + shape) < 0.3).astype(np.float32)
  return rng.integers(0, 256, size=(n,) + shape).astype(np.float32)


def _preset_structures():
  """DVAE++ presets grouped by the structure of their model at tiny width.

  At tiny width only the depth tells apart presets of the same Table 3 row,
  decoder, likelihood, number of global units and image shape (e.g. OMNIGLOT
  and Caltech-101); each group is built once, with its first preset's config.
  """
  groups = collections.defaultdict(list)
  for name, preset in sorted(presets.PRESETS.items()):
    if preset['model'].get('kind') == 'dvaepp':
      config = models.DVAEppConfig(**preset['model'])
      key = (config.latents, config.conditional_decoder, config.likelihood,
             sum(config.group_sizes),
             data.image_shape(preset['train']['dataset']))
      groups[key].append(name)
  return list(groups.values())


# One preset per Table 3 row (each decoder and dataset appears): these also
# check gradients and every other entry point.
FULL_CHECK = ('table3_all_continuous_mnist_dynamic', 'table3_rbm_rolfe_cifar10',
              'table3_dvaepp_omniglot', 'table3_rbm_bernoulli_mnist_dynamic',
              'table3_bernoulli_bernoulli_caltech101_silhouettes')


@pytest.mark.parametrize('names', _preset_structures(),
                         ids=lambda names: '+'.join(names))
def test_every_preset_at_tiny_width(rng, names):
  """Every preset's model builds at tiny width and its bounds have shape [B].

  `build` runs `log_importance_weights` through every network; the presets of
  `FULL_CHECK` also check gradients, sampling, encoding and reconstruction.
  """
  preset = presets.get_preset(names[0])
  dataset = preset['train']['dataset']
  binary = data.is_binary(dataset)
  config = models.DVAEppConfig(**dict(preset['model'], **TINY))
  for name in names:
    config.check_dataset(data.is_binary(presets.get_preset(name)['train'][
        'dataset']))
  shape = data.image_shape(dataset)
  assert sum(config.group_sizes) == (128 if dataset == 'cifar10' else 16)
  keras.utils.set_random_seed(0)
  model = models.build_model(config, np.full(shape, 0.3, np.float32),
                             binary=binary)
  model.build()
  x = tf.constant(some_images(rng, shape, 3, binary))
  with tf.GradientTape() as tape:
    terms = model.elbo(x, preset['train']['beta_start'], (1, 2),
                       kl_weight=0.5, training=True)
    loss = -tf.reduce_mean(terms['bound'])
  for key in ('bound', 'log_likelihood', 'kl'):
    assert terms[key].shape == (3,) and np.all(np.isfinite(terms[key]))
  if not any(name in FULL_CHECK for name in names):
    return
  grads = tape.gradient(loss, model.trainable_variables)
  assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
  log_w = model.log_importance_weights(x, (0, 1))
  assert log_w.shape == (3,) and np.all(np.isfinite(log_w))
  means, z = model.sample(4, (0, 1))
  assert means.shape == (4,) + shape and z.shape == (4, sum(config.group_sizes))
  assert np.all((means.numpy() >= 0.) & (means.numpy() <= 1.))
  posterior, log_q = model.encode_binary(x)
  assert [g.shape[-1] for g in posterior.zetas] == config.group_sizes
  assert log_q.shape == (3,)
  assert model.reconstruct(x).shape == (3,) + shape


def test_importance_weights_of_k_samples_equal_tiled_images(rng, model):
  """The encoder tower runs once per image; the k samples are those of the
  images tiled k times, from the same random numbers."""
  x = some_images(rng, (28, 28, 1), 2)
  together = model.log_importance_weights(x, (4, 5), num_samples=3)
  tiled = model.log_importance_weights(np.tile(x, [3, 1, 1, 1]), (4, 5))
  assert together.shape == (6,)
  np.testing.assert_allclose(together, tiled, rtol=1e-5, atol=1e-3)


def test_full_checks_cover_every_row_and_dataset():
  rows = {presets.get_preset(n)['model']['latents'] for n in FULL_CHECK}
  datasets = {presets.get_preset(n)['train']['dataset'] for n in FULL_CHECK}
  assert rows == set(models.TABLE3_ROWS)
  assert {'omniglot', 'caltech101_silhouettes', 'cifar10'} <= datasets


@pytest.fixture(scope='module')
def model():
  """A tiny DVAE++ with random weights, shared by the tests below."""
  keras.utils.set_random_seed(0)
  return tiny_model(np.random.default_rng(7), num_local_groups=3)


def test_local_normal_kl_matches_monte_carlo(rng):
  """The closed-form KL of a Normal local group against E_q[log q - log p]."""
  latent = latents.Normal()
  units = 6
  # Raw scales from -6 (s = 0.004) to 4: narrow and wide groups.
  q_params = np.concatenate([rng.normal(0., 2., [1, units]),
                             [[-6., -1., 0., 0.5, 2., 4.]]], -1)
  p_params = np.concatenate([rng.normal(0., 2., [1, units]),
                             [[1., -2., 0., 3., -0.5, -3.]]], -1)
  q_params, p_params = (tf.constant(p, tf.float64)
                        for p in (q_params, p_params))
  q = latent.distribution(q_params)
  kl = latent.kl(q, None, p_params, beta=None).numpy()
  h = q.sample(200_000, seed=(3, 4))
  samples = (tf.reduce_sum(q.log_prob(h), -1) -
             tf.reduce_sum(latent.distribution(p_params).log_prob(h), -1))
  samples = samples.numpy()[:, 0]
  se = samples.std() / np.sqrt(len(samples))
  assert abs(samples.mean() - kl[0]) < 4 * se, (samples.mean(), kl, se)


def _enumerate_binary(shape):
  n = int(np.prod(shape))
  states = np.array(list(itertools.product([0., 1.], repeat=n)), np.float32)
  return states.reshape((-1,) + shape)


@pytest.mark.parametrize('image_shape,downsampling,num_scales,exact', [
    ((4, 4, 1), 'pool', 3, False),
    ((4, 4, 1), 'subsample', 3, True),
    ((3, 3, 1), 'pool', 2, False),      # padded to 4x4
    ((3, 3, 1), 'subsample', 3, True),  # padded to 4x4
])
def test_multiscale_binary_likelihood_normalizes(rng, image_shape,
                                                 downsampling, num_scales,
                                                 exact):
  """sum_x p(x) over every binary image: <= 1, and 1 for the bijection."""
  pyramid = ImagePyramid(image_shape, num_scales=num_scales,
                         downsampling=downsampling, coarsest=1)
  assert pyramid.sizes[-1] == 4 and len(pyramid.sizes) == num_scales
  keras.utils.set_random_seed(1)
  decoder = multiscale_decoder.MultiScaleDecoder(
      pyramid, pixel_likelihoods.BernoulliPixels(), 4,
      np.full(image_shape, 0.3, np.float32))
  images = _enumerate_binary(image_shape)
  features = tf.constant(rng.normal(size=(1, 4, 4, 3)).astype(np.float32))
  decoder.log_prob({4: features}, images[:1])
  randomize(decoder, rng, scale=0.8)
  log_p = decoder.log_prob(
      {4: tf.tile(features, [len(images), 1, 1, 1])}, images).numpy()
  total = np.exp(special.logsumexp(log_p.astype(np.float64)))
  if exact:
    np.testing.assert_allclose(total, 1., rtol=1e-5)
  else:
    assert total < 1. - 1e-3  # Strictly: the pyramid leaks mass.


@pytest.mark.parametrize('pixels,image_shape', [
    (pixel_likelihoods.BernoulliPixels(), (4, 4, 1)),
    (pixel_likelihoods.DiscretizedLogisticPixels(2), (4, 4, 3)),
])
def test_multiscale_log_prob_broadcasts_images_over_samples(rng, pixels,
                                                            image_shape):
  """log p(x | features) of k samples per image, x given once, equals the
  score of x tiled k times."""
  pyramid = ImagePyramid(image_shape, num_scales=3, downsampling='subsample',
                         binary=pixels.binary, coarsest=1)
  keras.utils.set_random_seed(2)
  decoder = multiscale_decoder.MultiScaleDecoder(
      pyramid, pixels, 4, np.full(image_shape, 0.3 * pixels.max_value,
                                  np.float32))
  x = rng.integers(0, int(pixels.max_value) + 1,
                   size=(2,) + image_shape).astype(np.float32)
  features = {4: tf.constant(rng.normal(size=(6, 4, 4, 3)), tf.float32)}
  decoder.log_prob(features, np.tile(x, [3, 1, 1, 1]))
  randomize(decoder, rng, scale=0.5)
  broadcast = decoder.log_prob(features, x, num_samples=3)
  tiled = decoder.log_prob(features, np.tile(x, [3, 1, 1, 1]))
  assert broadcast.shape == (6,)
  np.testing.assert_allclose(broadcast, tiled, rtol=1e-6, atol=1e-4)


def test_bernoulli_log_prob_against_float64_and_its_gradient(rng):
  """The fused Bernoulli log-likelihood: against x l - softplus(l) in
  float64 over a grid of logits with the extremes, and its gradient
  x - sigmoid(l) (at l = 0 too, where max and |.| have kinks)."""
  logits = np.concatenate([np.linspace(-100., 100., 401), [0., -1e-8, 1e-8],
                           rng.normal(0., 5., 195)]).astype(np.float32)
  x = (rng.uniform(size=logits.shape) < 0.5).astype(np.float32)
  l64 = logits.astype(np.float64)
  expected = x * l64 - np.logaddexp(0., l64)
  l = tf.constant(logits[None])
  with tf.GradientTape() as tape:
    tape.watch(l)
    total = sampling.bernoulli_log_prob(l, x[None], axis=-1)
  np.testing.assert_allclose(total[0], expected.sum(), rtol=1e-5)
  each = sampling.bernoulli_log_prob(l, x[None], axis=[])
  np.testing.assert_allclose(each[0], expected, rtol=1e-6, atol=2e-7)
  np.testing.assert_allclose(tape.gradient(total, l)[0],
                             x - special.expit(l64), atol=1e-6)
  # Samples x images x pixels, the images broadcast over the samples (as
  # importance sampling scores them): each row's sum over its pixels.
  rows = rng.normal(0., 5., (3, 4, 600)).astype(np.float32)
  images = (rng.uniform(size=(1, 4, 600)) < 0.5).astype(np.float32)
  np.testing.assert_allclose(
      sampling.bernoulli_log_prob(tf.constant(rows), images, axis=2),
      (images * rows - np.logaddexp(0., rows.astype(np.float64))).sum(-1),
      rtol=1e-5)


def test_bernoulli_log_prob_warns_of_no_retracing(caplog):
  """The multi-scale decoder scores pixels at three scales and the step,
  evaluation and sampling at several batch sizes: each shape is scored
  exactly, and TensorFlow logs no retracing warning (it did at the start of
  every OMNIGLOT run of Table 3). Batch sizes no other test uses, so that
  each of the 12 signatures is traced here, whatever ran before."""
  with caplog.at_level(logging.WARNING):
    for batch in (11, 13, 17, 19):
      for size in (8, 16, 32):
        logits = tf.fill([batch, size, size, 1], 0.5)
        got = sampling.bernoulli_log_prob(logits, tf.ones_like(logits),
                                          axis=-1)
        assert got.shape == (batch, size, size)
        np.testing.assert_allclose(got, 0.5 - np.logaddexp(0., 0.5),
                                   rtol=1e-6)
  assert not [r for r in caplog.records if 'retracing' in r.getMessage()]


def test_discretized_logistic_mixture_sums_to_one(rng):
  """The 256 values of a pixel carry probability 1, and match SciPy.

  Locations from below 0 to above 255 and scales from 0.01 to 2000 levels,
  each with three components around them.
  """
  loc, scale = np.meshgrid([-40., 0., 0.3, 127.5, 254.7, 255., 400.],
                           [0.01, 0.12, 1., 30., 2000.])
  loc, scale = loc.reshape(-1, 1, 1), scale.reshape(-1, 1, 1)
  logits = rng.normal(size=[len(loc), 3]).astype(np.float32)
  locs = (loc + np.array([0., 3., -7.])[:, None]).astype(np.float32)
  scales = (scale * np.array([1., 2., 0.5])[:, None]).astype(np.float32)
  dist = discretized_logistic_mixture(logits, locs, scales)
  values = np.arange(256, dtype=np.float32)[:, None, None]
  log_p = dist.log_prob(values).numpy().astype(np.float64)  # [256, cases]
  assert np.all(np.isfinite(log_p))
  np.testing.assert_allclose(special.logsumexp(log_p, axis=0), 0., atol=1e-5)
  # An independent float64 reference: bin masses from the CDF below each
  # component's location and from the survival function above it.
  v = np.arange(256.)[:, None, None]
  logistic = stats.logistic(locs[..., 0], scales[..., 0])
  below = (np.where(v == 255., 1., logistic.cdf(v + 0.5)) -
           np.where(v == 0., 0., logistic.cdf(v - 0.5)))
  above = (np.where(v == 0., 1., logistic.sf(v - 0.5)) -
           np.where(v == 255., 0., logistic.sf(v + 0.5)))
  mass = np.where(v < locs[..., 0], below, above)
  reference = (special.softmax(logits, axis=-1) * mass).sum(-1)
  well = reference > 1e-30
  np.testing.assert_allclose(log_p[well], np.log(reference[well]),
                             rtol=1e-3, atol=1e-4)


def test_logistic_pixels_normalize_over_two_channels(rng):
  """The decoder's colour family: all 256^2 values of two channels sum to 1."""
  family = pixel_likelihoods.DiscretizedLogisticPixels(num_mixtures=4)
  params = rng.normal(0., 0.5, [1, 1, 1, family.num_params(2)])
  params = tf.constant(params + family.offset(np.full([1, 1, 2], 0.4)),
                       tf.float32)
  grid = np.stack(np.meshgrid(np.arange(256.), np.arange(256.)), -1)
  log_p = family.log_prob(params, tf.constant(
      grid.reshape(-1, 1, 1, 2), tf.float32)).numpy()
  np.testing.assert_allclose(special.logsumexp(log_p.astype(np.float64)), 0.,
                             atol=1e-4)


def test_kl_balancing_averages_to_one_and_ends_with_warmup(rng):
  group_kls = (rng.gamma(2., size=[7, 5]) *
               np.array([0.01, 1., 10., 100., 0.])).astype(np.float32)
  gamma = kl_balancing.balancing_coefficients(group_kls).numpy()
  np.testing.assert_allclose(gamma.mean(), 1., rtol=1e-6)
  assert np.all(np.diff(gamma[:4]) > 0) and gamma[4] < gamma[0]
  kls = tf.constant(group_kls)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(kls)
    during = kl_balancing.balanced_kl(kls, 0.4)
    after = kl_balancing.balanced_kl(kls, 1.)
  np.testing.assert_allclose(during, (group_kls * gamma).sum(-1), rtol=1e-5)
  np.testing.assert_allclose(after, group_kls.sum(-1), rtol=1e-6)
  # The coefficients are constants of the gradient.
  np.testing.assert_allclose(tape.gradient(during, kls),
                             np.broadcast_to(gamma, kls.shape), rtol=1e-5)
  np.testing.assert_allclose(tape.gradient(after, kls), np.ones(kls.shape))


def test_kl_balancing_leaves_the_bound_unchanged_after_warmup(rng, model):
  x = tf.constant(some_images(rng, (28, 28, 1), 4))

  def bound(kl_weight, balancing):
    model.kl_balancing = balancing
    return model.elbo(x, 10., (5, 6), kl_weight=kl_weight)['bound'].numpy()

  try:
    np.testing.assert_allclose(bound(1., True), bound(1., False), rtol=1e-6)
    assert not np.allclose(bound(0.3, True), bound(0.3, False), rtol=1e-4)
  finally:
    model.kl_balancing = True


def test_fixed_global_sampling_shares_the_global_sample(model):
  """Fig. 4: every 5 consecutive samples share z and differ in h."""
  means, z = model.sample(12, (2, 3), samples_per_global=5)
  z, means = z.numpy(), means.numpy()
  assert means.shape == (12, 28, 28, 1) and z.shape == (12, 16)
  for start in (0, 5, 10):
    group = z[start:start + 5]
    np.testing.assert_array_equal(group, np.broadcast_to(group[0],
                                                         group.shape))
  assert not np.array_equal(z[0], z[5]) or not np.array_equal(z[5], z[10])
  assert np.abs(means[0] - means[1]).max() > 1e-3
  with pytest.raises(ValueError, match='samples_per_global'):
    model.sample(3, (0, 0), samples_per_global=0)


def test_configs_of_both_kinds_load_and_bad_ones_are_refused():
  feed_forward = models.ModelConfig(prior='rbm').to_dict()
  assert feed_forward['kind'] == 'feed_forward'
  del feed_forward['kind']  # As in config.json of earlier runs.
  assert models.config_from_dict(feed_forward) == models.ModelConfig(
      prior='rbm')
  # The directed prior's old name in Table 3 configs.
  assert models.ModelConfig(prior='bernoulli').prior == 'factorial'
  dvaepp = models.DVAEppConfig(latents='rbm_rolfe', global_groups=4)
  assert models.config_from_dict(dvaepp.to_dict()) == dvaepp
  assert dvaepp.group_sizes == [4, 4, 4, 4]
  with pytest.raises(ValueError, match='global_groups'):
    models.DVAEppConfig(global_groups=3)
  with pytest.raises(ValueError, match='latents'):
    models.DVAEppConfig(latents='gaussian')
  with pytest.raises(ValueError, match='unknown fields'):
    models.config_from_dict({'kind': 'dvaepp', 'hidden_units': 10})
  # Both kinds name their networks `struct`, from their own registry; a
  # record written when DVAE++ called it `arch` reads back the same.
  with pytest.raises(ValueError, match="struct='1-layer-lin' is not one of"):
    models.config_from_dict({'kind': 'dvaepp', 'struct': '1-layer-lin'})
  assert models.config_from_dict(
      {'kind': 'dvaepp', 'arch': 'cpu'}) == models.DVAEppConfig(struct='cpu')
  with pytest.raises(ValueError, match="'logistic_mixture'"):
    models.DVAEppConfig().check_dataset(binary=False)
  with pytest.raises(ValueError, match='model'):
    models.config_from_dict({'kind': 'pixelcnn'})


def test_model_kind_of_a_run():
  """How bin/train.py resolves --model against --preset."""
  assert presets.model_kind() == 'feed_forward'
  assert presets.model_kind('demo') == 'feed_forward'
  assert presets.model_kind('dvaepp_cpu') == 'dvaepp'
  assert presets.model_kind(None, 'dvaepp') == 'dvaepp'
  with pytest.raises(ValueError, match='is a dvaepp preset'):
    presets.model_kind('table3_dvaepp_cifar10', 'feed_forward')


def test_model_refuses_images_of_the_wrong_shape(model):
  with pytest.raises(ValueError,
                     match=r'x must be images \[batch, 28, 28, 1\]'):
    model.elbo(np.zeros([2, 32, 32, 1], np.float32), 10., (0, 0))


def test_binaries_train_evaluate_sample_fixed_global(server, tmp_path):
  def _run_bin(name, *args):
    return server.run([name, *args])

  run_dir = str(tmp_path / 'dvaepp')
  out = _run_bin('train.py', '--model=dvaepp', '--preset=dvaepp_cpu',
                 '--dataset=sample', '--channels=4', '--num_local_groups=2',
                 '--num_chains=16', '--num_gibbs_sweeps=2', '--num_steps=2',
                 '--batch_size=8', '--checkpoint_every=2', '--log_every=1',
                 '--image_every=0', '--log_z_every=2',
                 f'--run_dir={run_dir}')
  assert out.returncode == 0, out.stderr[-3000:]
  with open(os.path.join(run_dir, 'config.json')) as f:
    assert json.load(f)['model']['kind'] == 'dvaepp'
  out = _run_bin('evaluate.py', f'--run_dir={run_dir}',
                 '--num_importance_samples=3', '--max_images=4',
                 '--batch_size=4')
  assert out.returncode == 0, out.stderr[-3000:]
  result = json.loads(out.stdout.strip().splitlines()[-1])
  assert result['log_z_method'] == 'exact' and result['nll'] > 0
  png = str(tmp_path / 'fig4.png')
  out = _run_bin('sample.py', f'--run_dir={run_dir}', '--fixed_global',
                 '--num_samples=10', f'--output={png}')
  assert out.returncode == 0, out.stderr[-3000:]
  image = tf.io.decode_png(tf.io.read_file(png))
  assert image.shape[:2] == (28 + 2, 10 * 29 + 1)  # one row of 2 groups of 5


@pytest.mark.parametrize('row', ['dvaepp', 'all_continuous'])
def test_export_signatures(tmp_path, rng, row):
  """The DVAE++ model exports through the feed-forward models' code.

  Every signature of the loaded SavedModel against the live model: the RBM
  rows encode to q(z = 1 | x) and a binary code; the all-continuous row to
  the posterior means (its code).
  """
  from dvae_tf.evaluation import bound as evaluation
  from dvae_tf import export
  model = tiny_model(rng, latents=row)
  log_normalizer = model.prior.refresh_log_normalizer(ais_chains=8,
                                                      ais_temperatures=5, seed=(0, 1))
  metadata = export.build_metadata(model, log_normalizer)
  path = export.write_saved_model(model, str(tmp_path), metadata)
  loaded = tf.saved_model.load(path)
  images = some_images(rng, (28, 28, 1), 3)

  out = loaded.signatures['sample'](num_samples=tf.constant(4),
                                    seed=tf.constant([5, 6]))
  live_means, live_z = model.sample(tf.constant(4), tf.constant([5, 6]))
  assert out['images'].shape == (4, 28, 28, 1) and out['latents'].shape == (
      4, 16)
  np.testing.assert_allclose(out['images'], live_means, atol=1e-5)
  np.testing.assert_array_equal(out['latents'], live_z)

  encoded = loaded.signatures['encode'](images=tf.constant(images))
  posterior, _ = model.encode_binary(tf.constant(images))
  code = tf.concat(posterior.zetas, -1).numpy()
  if row == 'all_continuous':
    # Continuous means: the SavedModel's optimized graph may fuse and order
    # the convolutions' float sums differently from eager execution.
    np.testing.assert_allclose(encoded['code'], code, rtol=1e-5, atol=1e-4)
    assert set(encoded) == {'means', 'code'}
    np.testing.assert_array_equal(encoded['means'], encoded['code'])
  else:
    np.testing.assert_array_equal(encoded['code'], code)
    assert set(encoded) == {'probabilities', 'code'}
    probabilities = encoded['probabilities'].numpy()
    assert np.all((probabilities >= 0.) & (probabilities <= 1.))
    np.testing.assert_array_equal(code, (probabilities > 0.5).astype(
        np.float32))
  assert metadata['signatures']['encode']['outputs'].keys() == set(encoded)

  reconstructions = loaded.signatures['reconstruct'](
      images=tf.constant(images))['reconstructions']
  np.testing.assert_allclose(reconstructions, model.reconstruct(images),
                             atol=1e-4)
  log_likelihood = loaded.signatures['log_likelihood'](
      images=tf.constant(images), num_importance_samples=tf.constant(2))
  expected = evaluation.importance_weighted_bound(
      model, tf.constant(images), 2, seed=export.LOG_LIKELIHOOD_SEED)
  np.testing.assert_allclose(log_likelihood['log_likelihood'], expected,
                             rtol=1e-5)
  with pytest.raises(tf.errors.InvalidArgumentError, match='images'):
    loaded.signatures['encode'](images=tf.constant(images[..., :27, :]))
