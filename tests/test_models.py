"""Feed-forward models: shapes, and the IW bound against exact enumeration."""

import itertools

import numpy as np
import pytest
from scipy import special
import tensorflow as tf

from dvae_tf.evaluation import bound as evaluation
from dvae_tf import models


def tiny_model(prior, struct, units, rng, smoothing='exponential',
               objective='joint'):
  config = models.ModelConfig(struct=struct, prior=prior, smoothing=smoothing,
                              objective=objective, units_per_group=units,
                              hidden_units=8, num_chains=16,
                              num_gibbs_sweeps=2)
  model = models.build_model(config, np.full([3, 3, 1], 0.4, np.float32))
  model.build()
  for v in model.trainable_variables:  # random weights, RBM included
    v.assign(rng.normal(0, 0.7, v.shape).astype(np.float32))
  return model


def exact_log_px(model, x):
  """log p(x) = logsumexp_z [log p(x|z) + log p(z)] over all binary z."""
  sizes = model.group_sizes
  model.prior.refresh_log_normalizer()
  states = np.array(list(itertools.product([0., 1.], repeat=sum(sizes))),
                    np.float32)
  groups = np.split(states, np.cumsum(sizes)[:-1], axis=1)
  xs = np.repeat(x[None], len(states), axis=0)
  joint = (model.decoder_log_prob(xs, groups) +
           model.prior.log_prob(groups)).numpy()
  return special.logsumexp(joint.astype(np.float64))


@pytest.mark.parametrize('prior,struct,units', [
    ('rbm', '1-layer-lin', 4), ('rbm', '2-layer-nonlin', 2),
    ('factorial', '2-layer-lin', 2), ('factorial', '4-layer-nonlin', 1)])
def test_iw_bound_increases_to_exact_log_likelihood(rng, prior, struct, units):
  model = tiny_model(prior, struct, units, rng)
  x = (rng.uniform(size=(3, 3, 1)) < 0.5).astype(np.float32)
  log_px = exact_log_px(model, x)
  repeats = np.repeat(x[None], 400, axis=0)  # independent draws per row
  means = []
  for k in (1, 10, 100):
    bounds = evaluation.importance_weighted_bound(model, repeats, k,
                                                  seed=(k, 1), chunk_size=7)
    means.append((bounds.numpy().mean(), bounds.numpy().std() / 20.))
  for (lo, se_lo), (hi, se_hi) in zip(means, means[1:]):
    assert lo < hi + 3 * np.hypot(se_lo, se_hi)
  for mean, se in means:
    assert mean < log_px + 3 * se
  assert means[0][0] < log_px - 0.05  # a real gap at k = 1
  # With many samples the estimate converges to log p(x): compare within
  # the delta-method standard error of log mean w.
  log_w = model.log_importance_weights(np.repeat(x[None], 20000, axis=0),
                                       seed=(0, 9)).numpy().astype(np.float64)
  estimate = special.logsumexp(log_w) - np.log(len(log_w))
  ratio = np.exp(log_w - estimate)
  se = ratio.std() / np.sqrt(len(log_w))
  assert abs(estimate - log_px) < 4 * se + 2e-3, (estimate, log_px, se)


@pytest.mark.parametrize('prior,struct', [('rbm', '1-layer-nonlin'),
                                          ('factorial', '2-layer-nonlin')])
def test_importance_weights_of_k_samples_equal_tiled_images(rng, prior,
                                                            struct):
  """k samples per image (first network once per image) are the samples of
  the images tiled k times, drawn from the same random numbers."""
  model = tiny_model(prior, struct, 4, rng)
  x = (rng.uniform(size=(5, 3, 3, 1)) < 0.5).astype(np.float32)
  k = 4
  together = model.log_importance_weights(x, seed=(2, 3), num_samples=k)
  tiled = model.log_importance_weights(np.tile(x, [k, 1, 1, 1]), seed=(2, 3))
  assert together.shape == (k * 5,)
  np.testing.assert_allclose(together, tiled, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('prior,smoothing,objective', [
    ('factorial', 'exponential', 'joint'), ('factorial', 'power', 'marginal'),
    ('factorial', 'concrete', 'marginal'), ('factorial', 'logistic', 'joint'),
    ('rbm', 'exponential', 'joint'), ('rbm', 'spike_exp', 'joint')])
def test_every_variant_trains_a_step(rng, prior, smoothing, objective):
  model = tiny_model(prior, '2-layer-nonlin', 4, rng, smoothing, objective)
  x = tf.constant((rng.uniform(size=(5, 3, 3, 1)) < 0.5).astype(np.float32))
  with tf.GradientTape() as tape:
    terms = model.elbo(x, 10., (1, 2), num_samples=3, training=True)
    loss = -tf.reduce_mean(terms['bound'])
  grads = tape.gradient(loss, model.trainable_variables)
  assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
  assert terms['bound'].shape == (5,)
  means, latents = model.sample(6, seed=(0, 1))
  assert means.shape == (6, 3, 3, 1) and latents.shape == (6, 8)
  assert model.reconstruct(x).shape == (5, 3, 3, 1)


def test_marginal_iw_training_bound_exceeds_average(rng):
  model = tiny_model('factorial', '2-layer-lin', 2, rng, objective='marginal')
  x = tf.constant((rng.uniform(size=(200, 3, 3, 1)) < 0.5).astype(np.float32))
  mean_bound = model.elbo(x, 5., (0, 1), num_samples=1)['bound']
  iw_bound = model.elbo(x, 5., (0, 1), num_samples=20)['bound']
  assert float(tf.reduce_mean(iw_bound)) > float(tf.reduce_mean(mean_bound))


def test_bad_configurations_are_rejected():
  with pytest.raises(ValueError, match="smoothing 'concrete' does not "
                     r"provide it. Use one of \['exponential'"):
    models.ModelConfig(prior='rbm', smoothing='concrete')
  with pytest.raises(ValueError, match='struct'):
    models.ModelConfig(struct='3-layer')
  with pytest.raises(ValueError, match='num_samples'):
    evaluation.importance_weighted_bound(None, np.zeros([1, 3, 3, 1]), 0)
  with pytest.raises(ValueError, match='needs binary images'):
    models.build_model(models.ModelConfig(), np.zeros([3, 3, 1]),
                       binary=False)


def test_paired_difference_matches_the_covariance_formula(rng):
  """sd(a - b)^2 = var a + var b - 2 cov(a, b): the paired error bar."""
  difficulty = rng.normal(100., 10., size=500)  # shared by both models
  a = difficulty + rng.normal(0., 1., size=500)
  b = difficulty + 0.5 + rng.normal(0., 1., size=500)
  paired = evaluation.paired_difference(a, b)
  cov = np.cov(a, b)  # ddof = 1
  expected_se = np.sqrt((cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]) / 500)
  np.testing.assert_allclose(paired['difference'], a.mean() - b.mean())
  np.testing.assert_allclose(paired['stderr'], expected_se, rtol=1e-10)
  # Shared difficulty cancels: far below either model's own error bar.
  unpaired = evaluation.summarize(a, 1)['stderr']
  assert paired['stderr'] < unpaired / 5
  shifted = evaluation.paired_difference(b + 2., b)
  assert shifted['difference'] == pytest.approx(2.)
  assert shifted['stderr'] == pytest.approx(0., abs=1e-12)
  with pytest.raises(ValueError, match='same images'):
    evaluation.paired_difference(a, b[:10])


@pytest.mark.parametrize('batch_norm', [False, True])
def test_apply_to_tiled_equals_the_net_on_tiled_rows(batch_norm):
  """The posterior's split first layer against the net on [tile(f), e]."""
  # pylint: disable=g-import-not-at-top
  from dvae_tf.math import posterior as posterior_lib
  from dvae_tf.networks import mlp
  rng = np.random.default_rng(0)
  net = mlp.mlp(6, num_hidden=2, hidden_units=8, batch_norm=batch_norm)
  features = rng.normal(size=(3, 5)).astype(np.float32)
  extra = rng.normal(size=(4 * 3, 2)).astype(np.float32)
  tiled = np.concatenate([np.tile(features, [4, 1]), extra], axis=-1)
  expected = net(tiled, training=False).numpy()
  got = posterior_lib.apply_to_tiled(net, features, extra, 4).numpy()
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
  assert not np.allclose(got[:3], got[3:6])  # The samples' rows differ.


def test_linear_of_concat_equals_the_product_of_the_tiled_concatenation():
  """Shared parts anywhere in the concatenation, 4-D rows, k as a tensor."""
  # pylint: disable=g-import-not-at-top
  from dvae_tf.networks import mlp
  rng = np.random.default_rng(1)
  k, n = 3, 2
  own_a = rng.normal(size=(k * n, 4, 4, 2)).astype(np.float32)
  shared = rng.normal(size=(n, 4, 4, 3)).astype(np.float32) * 1e3
  own_b = rng.normal(size=(k * n, 4, 4, 1)).astype(np.float32)
  kernel = rng.normal(size=(6, 5)).astype(np.float32)
  bias = rng.normal(size=5).astype(np.float32)
  tiled = np.concatenate([own_a, np.tile(shared, [k, 1, 1, 1]), own_b], -1)
  expected = tiled.astype(np.float64) @ kernel + bias
  got = mlp.linear_of_concat(kernel, bias, [(own_a, False), (shared, True),
                                            (own_b, False)], tf.constant(k))
  np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-2)
