"""Rolfe's gradient of the RBM KL under spike-and-exp smoothing: unbiased
against quadrature, value unchanged, other smoothings untouched, and the
models that use it train."""

import functools
import itertools

import numpy as np
from numpy.polynomial import legendre
import pytest
from scipy import special
import tensorflow as tf

from dvae_tf import graphs
from dvae_tf import models
from dvae_tf.math import objectives
from dvae_tf.math import posterior as posterior_lib
from dvae_tf.math import rolfe_gradient
from dvae_tf.math import smoothing as smoothing_lib
from dvae_tf import training
from dvae_tf.distributions import BoltzmannMachine
from dvae_tf.priors.rbm_prior import RBMPrior

BETA = 4.
# Tiny models over four units, z[:2] the RBM's left half and z[2:] its right
# half, in posterior groups of the given sizes: q(z_1 = 1 | x) = sigmoid(l_1)
# and group g > 1 has logits c_g + A_g zeta_<g; theta = [l_1, c_2, A_2, ...]
# (A_g row-major). With (1, 2, 1), group 2 spans both halves and its left
# unit is sampled given zeta_1.
STRUCTURES = {(2, 2): np.array([0.3, -0.6, 0.2, -0.4, 1.5, -1.0, -0.8, 2.0]),
              (1, 2, 1): np.array([0.4, -0.3, 0.5, 1.8, -1.2, 0.1, 1.0, -1.5,
                                   0.7])}
LINEAR_LEFT = np.array([0.3, -0.5])
LINEAR_RIGHT = np.array([-0.2, 0.4])
WEIGHTS = np.array([[2.0, 1.0], [-1.5, 1.2]])
NUM_MC = 200_000


def encoder_logits(theta, group_sizes, zetas):
  """The logits of group len(zetas) given the earlier groups' zetas.

  Args:
    theta: [..., P] parameters, a NumPy array or a tensor.
    group_sizes: units per group.
    zetas: list of [..., units_i], one per earlier group, as theta.

  Returns:
    [..., units_g] logits.
  """
  g = len(zetas)
  if g == 0:
    return theta[..., :group_sizes[0]]
  offset = group_sizes[0] + sum(
      size * (1 + before) for size, before in
      zip(group_sizes[1:g], np.cumsum(group_sizes)[:g - 1]))
  size, before = group_sizes[g], sum(group_sizes[:g])
  zeta = zetas[0] if g == 1 else (
      tf.concat(zetas, axis=-1) if tf.is_tensor(zetas[0]) else
      np.concatenate(zetas, axis=-1))
  rows = [theta[..., offset + size + i * before:
                offset + size + (i + 1) * before] for i in range(size)]
  linear = [(r * zeta).sum(-1) if isinstance(r, np.ndarray) else
            tf.reduce_sum(r * zeta, axis=-1) for r in rows]
  c = theta[..., offset:offset + size]
  if isinstance(c, np.ndarray):
    return c + np.stack(linear, axis=-1)
  return c + tf.stack(linear, axis=-1)


def bernoulli_log_prob(logits, z):
  return -(z * np.logaddexp(0., -logits) + (1. - z) * np.logaddexp(0., logits))


def energy(z):
  """E(z) of the test RBM, z [..., 4] (binary, or means where independent)."""
  left, right = z[..., :2], z[..., 2:]
  return -(left @ LINEAR_LEFT + right @ LINEAR_RIGHT +
           np.sum((left @ WEIGHTS) * right, axis=-1))


def expected_kl(group_sizes, theta, num_nodes=32):
  """E_q[KL] - log Z of a tiny model by exact integration over zeta_<G.

  Every unit of the groups before the last is z = 0 with mass 1 - q at
  zeta = 0, or z = 1 with density q beta e^{beta (zeta - 1)} / (1 - e^{-beta})
  on (0, 1], integrated by Gauss-Legendre in each slab coordinate; the last
  group G is summed out given the earlier zetas (its entropy, and its mean in
  the energy: exact, as its units are independent given them). The integrand
  is sum_{g<G} log q(z_g | zeta_<g) - H(q_G) + E(z).
  """
  nodes, node_weights = legendre.leggauss(num_nodes)
  nodes, node_weights = (nodes + 1.) / 2., node_weights / 2.
  slab = BETA * np.exp(BETA * (nodes - 1.)) / -np.expm1(-BETA)
  splits = np.cumsum(group_sizes[:-1])[:-1]
  total = 0.
  for z in itertools.product([0., 1.], repeat=sum(group_sizes[:-1])):
    axes = [(nodes, node_weights * slab) if unit else (np.zeros(1), np.ones(1))
            for unit in z]
    zeta = np.stack(np.meshgrid(*[v for v, _ in axes], indexing='ij'), -1)
    node_mass = functools.reduce(np.multiply.outer, [w for _, w in axes])
    z_groups = np.split(np.broadcast_to(z, zeta.shape), splits, axis=-1)
    zetas = np.split(zeta, splits, axis=-1)
    log_q = sum(bernoulli_log_prob(
        encoder_logits(theta, group_sizes, zetas[:g]), z_g).sum(-1)
                for g, z_g in enumerate(z_groups))
    last = encoder_logits(theta, group_sizes, zetas)
    mean = special.expit(last)
    entropy = -(mean * bernoulli_log_prob(last, 1.) +
                (1. - mean) * bernoulli_log_prob(last, 0.)).sum(-1)
    units = np.concatenate(list(z_groups) + [mean], axis=-1)
    total += np.sum(node_mass * np.exp(log_q) *
                    (log_q - entropy + energy(units)))
  return total


def exact_gradient(group_sizes, theta, step=1e-5):
  """d E[KL] / d theta by central differences of `expected_kl`."""
  return np.array([(expected_kl(group_sizes, theta + step * e) -
                    expected_kl(group_sizes, theta - step * e)) / (2. * step)
                   for e in np.eye(len(theta))])


def rbm_prior(name, group_sizes):
  prior = RBMPrior(group_sizes, smoothing=smoothing_lib.get_smoothing(name),
                   num_chains=4, num_gibbs_sweeps=1, dtype='float64')
  prior.linear_left.assign(LINEAR_LEFT)
  prior.linear_right.assign(LINEAR_RIGHT)
  prior.weights_rbm.assign(WEIGHTS)
  return prior


def kl_and_gradients(name, group_sizes, num_rows, seed=(1, 2)):
  """(prior.kl, plain boltzmann_kl, and their per-row gradients w.r.t. theta).

  theta is tiled to one row per sample, so the gradient of the summed KL
  with respect to the tiled tensor is each sample's own gradient [N, P].
  `objectives.boltzmann_kl` alone is the reparameterized gradient without Rolfe's
  term, what `RBMPrior` computed before it.
  """
  prior = rbm_prior(name, group_sizes)
  smoothing = prior.smoothing
  theta = STRUCTURES[group_sizes]
  rows = tf.tile(tf.constant(theta[None]), [num_rows, 1])
  seeds = tf.random.experimental.stateless_split(seed, len(group_sizes))
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(rows)
    logits, distributions, zetas = [], [], []
    for group_seed in seeds:
      logits.append(encoder_logits(rows, group_sizes, zetas))
      distributions.append(smoothing(logits[-1], BETA))
      zetas.append(distributions[-1].sample(seed=group_seed))
    sample = posterior_lib.PosteriorSample(logits, zetas, zetas,
                                           distributions)
    kl = prior.kl(sample, BETA)
    plain = objectives.boltzmann_kl(
        prior.rbm(), group_sizes, logits,
        [d.posterior_logits(s) for d, s in zip(distributions, zetas)],
        tf.convert_to_tensor(prior.log_z_estimate))
  return (kl.numpy(), plain.numpy(), tape.gradient(kl, rows).numpy(),
          tape.gradient(plain, rows).numpy())


@pytest.mark.parametrize('group_sizes', list(STRUCTURES))
def test_the_quadrature_reference_is_converged(group_sizes):
  theta = STRUCTURES[group_sizes]
  assert expected_kl(group_sizes, theta, 32) == pytest.approx(
      expected_kl(group_sizes, theta, 48), abs=1e-11)


@pytest.mark.parametrize('group_sizes', list(STRUCTURES))
def test_spike_exp_gradient_is_unbiased_and_the_plain_one_is_not(group_sizes):
  exact = exact_gradient(group_sizes, STRUCTURES[group_sizes])
  _, _, grads, plain = kl_and_gradients('spike_exp', group_sizes, NUM_MC)
  assert np.all(np.isfinite(grads)) and np.all(np.isfinite(plain))
  z = (grads.mean(axis=0) - exact) / (grads.std(axis=0) / np.sqrt(NUM_MC))
  assert np.all(np.abs(z) < 4.), (z, grads.mean(axis=0), exact)
  # Without the boundary term, the derivatives in the logits of the left
  # units that precede a right unit's group are off by many standard errors.
  plain_z = (plain.mean(axis=0) - exact) / (plain.std(axis=0) /
                                            np.sqrt(NUM_MC))
  assert np.max(np.abs(plain_z)) > 20., plain_z


def test_spike_exp_kl_value_is_unchanged():
  kl, plain, _, _ = kl_and_gradients('spike_exp', (2, 2), 1000)
  np.testing.assert_array_equal(kl, plain)


def test_exponential_smoothing_is_bit_identical():
  kl, plain, grads, plain_grads = kl_and_gradients('exponential', (2, 2), 1000)
  np.testing.assert_array_equal(kl, plain)
  np.testing.assert_array_equal(grads, plain_grads)


@pytest.mark.parametrize('name', smoothing_lib.with_posterior_logits())
def test_deterministic_posterior_flag_matches_the_distribution(name):
  smoothing = smoothing_lib.get_smoothing(name)
  q = smoothing(tf.linspace(-3., 3., 50), 5.)
  logits = q.posterior_logits(q.sample(20, seed=(0, 3))).numpy()
  assert smoothing.deterministic_posterior == np.all(np.isinf(logits))


def test_feed_forward_rbm_with_spike_exp_trains(tmp_path):
  config = models.ModelConfig(struct='2-layer-nonlin', prior='rbm',
                              smoothing='spike_exp', units_per_group=4,
                              hidden_units=8, num_chains=16,
                              num_gibbs_sweeps=2)
  train_config = training.TrainConfig(
      dataset='sample', num_steps=4, batch_size=20, checkpoint_every=4,
      log_every=2, image_every=0, log_z_every=4)
  result = training.train(config, train_config, str(tmp_path), verbose=False)
  assert result['step'] == 4 and np.isfinite(result['bound'])


def test_dvaepp_rbm_rolfe_with_two_global_groups_has_finite_gradients(rng):
  config = models.DVAEppConfig(struct='cpu', latents='rbm_rolfe',
                               global_groups=2, channels=4,
                               num_local_groups=2, num_chains=8,
                               num_gibbs_sweeps=2)
  model = models.build_model(config, np.full([28, 28, 1], 0.3, np.float32))
  model.build()
  x = tf.constant((rng.uniform(size=(4, 28, 28, 1)) < 0.3).astype(np.float32))
  with tf.GradientTape() as tape:
    bound = model.elbo(x, 4., (3, 4), training=True)['bound']
    loss = -tf.reduce_mean(bound)
  grads = tape.gradient(loss, model.trainable_variables)
  assert np.all(np.isfinite(bound.numpy()))
  assert all(g is not None and np.all(np.isfinite(g)) for g in grads)


def test_boundary_surrogate_on_a_graph_with_edges_within_a_group(rng):
  """On a triangle with groups {0} and {1, 2}, only unit 0 has an earlier
  group's nu in the KL: dS/dl_0 = (1 - nu_0) q_0 h_0 with
  h_0 = -(w_01 mu_1 + w_02 mu_2); the within-group edge (1, 2) adds nothing."""
  graph = graphs.Graph(range(3), [(0, 1), (0, 2), (1, 2)])
  w = rng.normal(size=3)
  machine = BoltzmannMachine(graph, np.zeros(3), w)
  logits = tf.constant(rng.normal(size=(4, 3)))
  nu_logits = tf.constant([[np.inf, 0., 0.], [-np.inf, 0., 0.],
                           [-np.inf, 0., 0.], [np.inf, 0., 0.]],
                          tf.float64)
  with tf.GradientTape() as tape:
    tape.watch(logits)
    surrogate = rolfe_gradient.boundary_surrogate(
        machine, [1, 2], [logits[:, :1], logits[:, 1:]],
        [nu_logits[:, :1], nu_logits[:, 1:]])
    total = tf.reduce_sum(surrogate)
  np.testing.assert_array_equal(surrogate, 0.)
  grad = tape.gradient(total, logits).numpy()
  q = 1. / (1. + np.exp(-logits.numpy()))
  nu0 = (nu_logits.numpy()[:, 0] > 0).astype(float)
  h0 = -(w[0] * q[:, 1] + w[1] * q[:, 2])
  np.testing.assert_allclose(grad[:, 0], (1. - nu0) * q[:, 0] * h0,
                             rtol=1e-12)
  np.testing.assert_array_equal(grad[:, 1:], 0.)
