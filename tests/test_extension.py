"""A new prior, a new smoothing and a new graph family, defined here alone,
train, evaluate and export: each is one class (or one `Smoothing`, or one
function) and one registry line."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf.evaluation import report as evaluation_report
from dvae_tf import export
from dvae_tf import graphs
from dvae_tf.math import objectives
from dvae_tf import priors
from dvae_tf import sampling
from dvae_tf.math import smoothing
from dvae_tf import run_directory
from dvae_tf import training
from dvae_tf.distributions import OverlappingExponential
from dvae_tf.models import config as config_lib

tfd = tfp.distributions


class FixedLogitsPrior(priors.Prior):
  """p(z) = prod_u Bernoulli(z_u; sigmoid(c)) with a fixed logit c (Eq. 4)."""

  LOGIT = -1.

  def _logits(self, z):
    return tf.fill(tf.shape(z), tf.constant(self.LOGIT, z.dtype))

  def _kl(self, posterior, beta, seed, training):
    return objectives.joint_kl(posterior.params,
                               [self._logits(p) for p in posterior.params])

  def _log_prob(self, z_groups, training):
    return tf.add_n([tf.reduce_sum(tfd.Bernoulli(
        logits=self._logits(z), dtype=z.dtype).log_prob(z), -1)
                     for z in z_groups])

  def _sample(self, num_samples, seed):
    seeds = tfp.random.split_seed(seed, n=len(self.group_sizes))
    return [sampling.bernoulli_sample(
        tf.fill([num_samples, units], self.LOGIT), s)
            for units, s in zip(self.group_sizes, seeds)]


# An existing mixture at twice the inverse temperature.
HOT_EXPONENTIAL = smoothing.Smoothing(
    'hot_exponential', lambda logits, beta: OverlappingExponential(
        beta=2. * tf.cast(beta, logits.dtype), logits=logits))


@pytest.fixture
def registered():
  priors.register_prior('fixed_logits', FixedLogitsPrior)
  smoothing.register_smoothing(HOT_EXPONENTIAL)
  yield
  del priors.PRIORS['fixed_logits']
  del smoothing.SMOOTHINGS['hot_exponential']


def test_new_prior_and_smoothing_train_evaluate_export(registered, tmp_path):
  model_config = config_lib.ModelConfig(
      struct='2-layer-nonlin', prior='fixed_logits',
      smoothing='hot_exponential', units_per_group=6, hidden_units=12)
  train_config = training.TrainConfig(dataset='sample', num_steps=4,
                                      batch_size=10, checkpoint_every=2,
                                      image_every=0, log_z_every=2)
  run_dir = str(tmp_path / 'run')
  result = training.train(model_config, train_config, run_dir,
                          verbose=False)
  assert result['step'] == 4 and np.isfinite(result['bound'])
  run = run_directory.restore_model(run_dir)
  assert isinstance(run.model.prior, FixedLogitsPrior)
  assert run.model.global_latent.smoothing is HOT_EXPONENTIAL
  evaluation = evaluation_report.evaluate_run(
      run_dir, num_importance_samples=5, max_images=20)
  assert evaluation['num_images'] == 20 and np.isfinite(evaluation['nll'])
  assert evaluation['log_z_method'] == 'none (normalized prior)'
  path = export.export(run_dir, str(tmp_path / 'export'))
  with open(os.path.join(path, export.METADATA_FILE)) as f:
    assert json.load(f)['model_config']['prior'] == 'fixed_logits'
  loaded = tf.saved_model.load(path)
  out = loaded.signatures['sample'](num_samples=tf.constant(3),
                                    seed=tf.constant([1, 2]))
  assert out['latents'].shape == (3, 12)
  images = tf.zeros([2, 28, 28, 1])
  ll = loaded.signatures['log_likelihood'](
      images=images, num_importance_samples=tf.constant(3))['log_likelihood']
  assert ll.shape == (2,) and np.all(np.isfinite(ll))


def test_new_prior_log_prob_and_kl_are_its_math(registered):
  """The registered prior's KL is the closed-form Bernoulli KL (Eq. 4)."""
  prior = priors.build_prior('fixed_logits', priors.PriorSpec(group_sizes=(3,)))
  params = tf.constant([[0.5, -2., 1.]])
  q = tf.sigmoid(params).numpy()[0]
  p = 1. / (1. + np.exp(-FixedLogitsPrior.LOGIT))
  expected = np.sum(q * np.log(q / p) + (1 - q) * np.log((1 - q) / (1 - p)))

  class Posterior:
    pass

  posterior = Posterior()
  posterior.params = [params]
  np.testing.assert_allclose(prior.kl(posterior, 1.), [expected], rtol=1e-5)
  z = tf.constant([[1., 0., 1.]])
  np.testing.assert_allclose(
      prior.log_prob([z]), [2 * np.log(p) + np.log(1 - p)], rtol=1e-6)
  with pytest.raises(ValueError, match='fixed_logits'):
    config_lib.ModelConfig(prior='fixed_logit')


# A new graph family: one function and one registry line.


def ladder(rungs):
  """The ladder graph P_2 x P_rungs: two rails joined by rungs, 2-coloured
  like a chessboard (no colouring given would also do: greedy)."""
  edges = [(2 * k, 2 * k + 1) for k in range(rungs)]
  edges += [(2 * k + r, 2 * k + 2 + r) for k in range(rungs - 1)
            for r in (0, 1)]
  colours = [(k + r) % 2 for k in range(rungs) for r in (0, 1)]
  return graphs.Graph(range(2 * rungs), edges, colours,
                      name=f'ladder:{rungs}').sorted_by_colour()


@pytest.fixture
def ladder_family():
  graphs.register_graph_family('ladder', ladder)
  yield
  del graphs.GRAPH_FAMILIES['ladder']


def test_new_graph_family_trains_a_feed_forward_model(ladder_family, tmp_path):
  model_config = config_lib.ModelConfig(
      struct='2-layer-nonlin', prior='boltzmann', graph='ladder:5',
      hidden_units=12, num_chains=8, num_gibbs_sweeps=2)
  train_config = training.TrainConfig(dataset='sample', num_steps=4,
                                      batch_size=10, checkpoint_every=2,
                                      image_every=0, log_z_every=2)
  run_dir = str(tmp_path / 'run')
  result = training.train(model_config, train_config, run_dir,
                          verbose=False)
  assert result['step'] == 4 and np.isfinite(result['bound'])
  # The run restores without the family: its graph is recorded.
  del graphs.GRAPH_FAMILIES['ladder']
  prior = run_directory.restore_model(run_dir).model.prior
  graphs.register_graph_family('ladder', ladder)
  assert prior.graph == ladder(5) and prior.group_sizes == [5, 5]
  assert prior.refresh_log_normalizer().method == 'exact'


def test_new_graph_family_is_dvaepp_global_prior(ladder_family):
  config = config_lib.DVAEppConfig(graph='ladder:8', channels=4,
                                   num_local_groups=1, num_chains=8,
                                   num_gibbs_sweeps=1)
  model = config.build(np.full([28, 28, 1], 0.3, np.float32))
  assert model.prior.graph == ladder(8) and model.group_sizes == [8, 8]
  x = tf.cast(tf.random.stateless_uniform([3, 28, 28, 1], (1, 2)) < .3,
              tf.float32)
  with tf.GradientTape() as tape:
    bound = tf.reduce_mean(model.elbo(x, 10., (1, 2), training=True)['bound'])
  grads = tape.gradient(bound, model.prior.trainable_variables)
  assert np.isfinite(float(bound))
  assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
  images, latents = model.sample(4, (3, 4))
  assert images.shape == (4, 28, 28, 1) and latents.shape == (4, 16)
