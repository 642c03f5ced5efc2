"""Gradient draws against finite differences; their statistics against numpy."""

import numpy as np
import pytest
import tensorflow as tf

from dvae_tf.math import gradient_variance as gv
from dvae_tf import models


@pytest.fixture(scope='module')
def model_and_batch():
  rng = np.random.default_rng(0)
  mean = rng.uniform(0.2, 0.8, [28, 28, 1]).astype(np.float32)
  config = models.ModelConfig(struct='1-layer-nonlin', units_per_group=6,
                              hidden_units=10, centered_latents=True)
  model = config.build(mean)
  model.build()
  for v in model.trainable_variables:  # Move off the zero initialisation.
    v.assign(v + 0.1 * rng.standard_normal(v.shape).astype(np.float32))
  x = (rng.uniform(size=[5, 28, 28, 1]) < mean).astype(np.float32)
  return model, x


def _loss(model, x, beta, seed):
  return -float(tf.reduce_mean(
      model.elbo(x, beta, seed, training=True)['bound']).numpy())


@pytest.mark.parametrize('group', ['encoder', 'decoder', 'prior'])
def test_draws_are_the_gradient_at_their_noise(model_and_batch, group):
  """Each draw equals central differences of the loss at the same seed."""
  model, x = model_and_batch
  # The loss is about 500 nats, where float32 resolves 6e-5: h = 0.05 keeps
  # that rounding under 1e-3 in the difference quotient (below atol), and the
  # O(h^2) truncation error below it too.
  beta, seed, h = 8., (3, 4), 5e-2
  draws, losses = gv.gradient_draws(model, x, beta, [seed])
  draw = draws[0]
  assert losses[0] == pytest.approx(_loss(model, x, beta, seed), rel=1e-5)
  offsets = np.cumsum([0] + [int(np.prod(v.shape))
                             for v in model.trainable_variables])
  checked = 0
  for i, v in enumerate(model.trainable_variables):
    if gv.group_of(v) != group or v.shape.rank != 1:
      continue  # One bias vector per group is enough.
    for j in range(2):
      step = np.zeros(v.shape, np.float32)
      step[j] = h
      v.assign_add(step)
      up = _loss(model, x, beta, seed)
      v.assign_sub(2 * step)
      down = _loss(model, x, beta, seed)
      v.assign_add(step)
      numeric = (up - down) / (2 * h)
      np.testing.assert_allclose(draw[offsets[i] + j], numeric, rtol=2e-2,
                                 atol=2e-3)
      checked += 1
    break
  assert checked == 2


def test_draws_vary_with_the_seed_only(model_and_batch):
  model, x = model_and_batch
  same, _ = gv.gradient_draws(model, x, 8., [(1, 1), (1, 1)])
  np.testing.assert_array_equal(same[0], same[1])
  masks = gv.group_slices(model)
  assert sum(int(m.sum()) for m in masks.values()) == same.shape[1]
  other, _ = gv.gradient_draws(model, x, 8., [(1, 1), (2, 1)])
  assert gv.statistics(other[:, masks['encoder']])['variance'] > 0


def test_statistics_recover_a_known_covariance():
  """Trace of the covariance and the mean of Gaussian draws."""
  rng = np.random.default_rng(1)
  scales = np.array([0.5, 1., 2., 3.])
  mean = np.array([1., -2., 0.5, 4.])
  draws = mean + scales * rng.standard_normal([20000, 4])
  stats = gv.statistics(draws)
  np.testing.assert_allclose(stats['variance'], np.sum(scales ** 2),
                             rtol=0.03)
  np.testing.assert_allclose(stats['mean'], mean, atol=0.05)
  np.testing.assert_allclose(stats['snr'],
                             np.sum(mean ** 2) / np.sum(scales ** 2),
                             rtol=0.05)
  np.testing.assert_allclose(
      stats['variance'], np.var(draws, axis=0, ddof=1).sum(), rtol=1e-10)
  with pytest.raises(ValueError, match='S >= 2'):
    gv.statistics(draws[:1])


def test_cosine():
  assert gv.cosine([1., 0.], [0., 2.]) == pytest.approx(0.)
  assert gv.cosine([1., 1.], [2., 2.]) == pytest.approx(1.)
  assert gv.cosine([1., 0.], [-3., 0.]) == pytest.approx(-1.)
