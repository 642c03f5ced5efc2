"""Numerical tests of the smoothing distributions against independent references.

References: naive float64 densities from the definitions and Gauss-Legendre
quadrature (tests/smoothing_reference.py), bisection, SciPy's KS test, and
finite differences of quadrature.
"""

import numpy as np
import pytest
from scipy import special
from scipy import stats
import tensorflow as tf

from dvae_tf.distributions import OverlappingExponential
from dvae_tf.distributions import OverlappingLogistic
from dvae_tf.distributions import OverlappingPower
from dvae_tf.distributions import SpikeAndExponential

from tests import smoothing_reference as ref

FAMILIES = {
    'exponential': OverlappingExponential,
    'power': OverlappingPower,
    'logistic': OverlappingLogistic,
    'spike_exp': SpikeAndExponential,
}
MIRRORED = ('exponential', 'power', 'logistic')
LOGITS_GRID = np.linspace(-10., 10., 9)
BETA_GRID = np.array([1., 5., 10., 20., 50., 100.])
# Quadrature in float64 cannot reach below exp(-708): the power family at
# beta = 100 keeps (1-q) exp(-7.08) < 1e-3 of its mass there.
QUADRATURE_TOL = {'exponential': 1e-6, 'power': 1e-3, 'logistic': 1e-6,
                  'spike_exp': 1e-6}


def grid_dist(family, dtype=np.float64):
  """The distribution with batch shape [len(LOGITS_GRID), len(BETA_GRID)]."""
  return FAMILIES[family](beta=BETA_GRID[None, :].astype(dtype),
                          logits=LOGITS_GRID[:, None].astype(dtype))


def grid_density_fn(family, sign=1.):
  """zeta [K] -> library density [K, L, B] for logits sign * LOGITS_GRID."""
  dist = FAMILIES[family](beta=BETA_GRID[None, :],
                          logits=sign * LOGITS_GRID[:, None])
  return lambda zeta: dist.prob(zeta[:, None, None]).numpy()


def reference_expectation(family, fn, logits, beta):
  """E[fn(zeta)] under the reference density, by quadrature."""
  if family == 'spike_exp':
    slab = ref.gauss_legendre(
        lambda z: fn(z) * ref.mixture_density(family, z, logits, beta),
        0., 1., 2000)
    return fn(np.zeros(1))[0] * special.expit(-logits) + slab
  lower = ref.integral_from_lower_end(
      lambda z: fn(z) * ref.mixture_density(family, z, logits, beta), 0.5,
      family)
  # The upper half, mirrored: q_l(1 - eta) = q_{-l}(eta).
  upper = ref.integral_from_lower_end(
      lambda e: fn(1. - e) * ref.mixture_density(family, e, -logits, beta),
      0.5, family)
  return lower + upper


@pytest.mark.parametrize('family', ['exponential', 'spike_exp'])
def test_quantile_matches_bisection_on_cdf(family):
  dist = grid_dist(family)
  rho = ((np.arange(40) + 0.3) / 40.2)[:, None, None]
  lo = np.zeros(rho.shape[:1] + dist.batch_shape)
  hi = np.ones_like(lo)
  for _ in range(60):
    mid = 0.5 * (lo + hi)
    below = dist.cdf(mid).numpy() < rho
    lo = np.where(below, mid, lo)
    hi = np.where(below, hi, mid)
  quantile = dist.quantile(np.broadcast_to(rho, lo.shape)).numpy()
  np.testing.assert_allclose(quantile, hi, atol=1e-4, rtol=0)

  # float32: the stable Eq. 3 inverts the cdf to float32 precision.
  quantile32 = grid_dist(family, np.float32).quantile(
      np.broadcast_to(rho, lo.shape).astype(np.float32)).numpy()
  cdf64 = dist.cdf(quantile32.astype(np.float64)).numpy()
  rho = np.broadcast_to(rho, lo.shape)
  # At an atom (the spike at 0) the CDF jumps past rho instead of meeting it.
  atom = quantile32 == 0.
  np.testing.assert_allclose(cdf64[~atom], rho[~atom], atol=2e-5)
  assert np.all(cdf64[atom] >= rho[atom] - 2e-5)


@pytest.mark.parametrize('family', MIRRORED)
def test_mirror_symmetry(family):
  """q_l(1 - zeta) = q_{-l}(zeta), used by the quadratures below."""
  zeta = np.linspace(0.01, 0.99, 25)[:, None, None]
  np.testing.assert_allclose(grid_dist(family).prob(1. - zeta).numpy(),
                             grid_density_fn(family, -1.)(zeta[:, 0, 0]),
                             rtol=1e-9)


@pytest.mark.parametrize('family', list(FAMILIES))
def test_log_prob_matches_reference_density(family):
  zeta = np.linspace(0.003, 0.997, 41)
  if family == 'logistic':
    zeta = np.linspace(-1., 2., 41)
  expected = ref.mixture_density(family, zeta[:, None, None],
                                 LOGITS_GRID[:, None], BETA_GRID[None, :])
  got = grid_dist(family).prob(zeta[:, None, None]).numpy()
  np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-300)
  got32 = grid_dist(family, np.float32).log_prob(
      zeta[:, None, None].astype(np.float32)).numpy()
  finite = expected > 1e-30
  np.testing.assert_allclose(got32[finite], np.log(expected[finite]),
                             atol=2e-3, rtol=1e-4)


@pytest.mark.parametrize('family', list(FAMILIES))
def test_prob_integrates_to_one(family):
  if family == 'spike_exp':
    dist = grid_dist(family)
    total = (dist.prob(0.).numpy() +
             ref.gauss_legendre(grid_density_fn(family), 0., 1., 4000))
  else:
    total = (ref.integral_from_lower_end(grid_density_fn(family), 0.5, family)
             + ref.integral_from_lower_end(grid_density_fn(family, -1.), 0.5,
                                           family))
  np.testing.assert_allclose(total, 1., atol=1e-3)


@pytest.mark.parametrize('family', list(FAMILIES))
def test_cdf_matches_integral_of_prob(family):
  dist = grid_dist(family)
  for a in (0.01, 0.1, 0.3, 0.5):
    if family == 'spike_exp':
      lower = dist.prob(0.).numpy() + ref.gauss_legendre(
          grid_density_fn(family), 0., a, 2000)
      upper = 1. - ref.gauss_legendre(grid_density_fn(family), 1. - a, 1.,
                                      2000)
    else:
      lower = ref.integral_from_lower_end(grid_density_fn(family), a, family)
      upper = 1. - ref.integral_from_lower_end(grid_density_fn(family, -1.), a,
                                               family)
    tol = QUADRATURE_TOL[family]
    np.testing.assert_allclose(dist.cdf(a).numpy(), lower, atol=tol)
    np.testing.assert_allclose(dist.cdf(1. - a).numpy(), upper, atol=tol)


@pytest.mark.parametrize('family', list(FAMILIES))
def test_posterior_logits_is_bayes_rule(family):
  zeta = np.linspace(0.02, 0.98, 25)
  if family == 'logistic':
    zeta = np.linspace(-0.5, 1.5, 25)
  expected = ref.posterior_prob(family, zeta[:, None, None],
                                LOGITS_GRID[:, None], BETA_GRID[None, :])
  got = tf.sigmoid(grid_dist(family).posterior_logits(
      zeta[:, None, None])).numpy()
  np.testing.assert_allclose(got, expected, atol=1e-9)
  if family == 'spike_exp':
    at_zero = grid_dist(family).posterior_logits(0.).numpy()
    assert np.all(at_zero == -np.inf)


def _censored_ks(samples, dist64, logits, beta):
  """KS p-value that allows atoms where the dtype clips (or the spike puts) mass.

  A value drawn more than once at the bottom or top of the sample is an atom:
  its count is compared with the CDF mass at or beyond it (a binomial
  z-score), and the remaining samples are KS-tested against the CDF
  conditioned on lying strictly inside.
  """
  n = samples.size
  lo, hi = samples.min(), samples.max()
  cdf = lambda x: dist64.cdf(np.asarray(x, np.float64)).numpy()
  keep = np.ones(n, bool)
  f_lo, f_hi = 0., 1.
  if np.sum(samples == lo) > 1:
    f_lo = cdf(lo)
    keep &= samples > lo
  if np.sum(samples == hi) > 1:
    f_hi = cdf(hi)
    keep &= samples < hi
  for count, expect in ((np.sum(samples == lo), n * f_lo),
                        (np.sum(samples == hi), n * (1. - f_hi))):
    assert abs(count - expect) < 5. * np.sqrt(expect + 1.), (
        f'atom of {count} samples, {expect:.1f} expected '
        f'(logits={logits}, beta={beta})')
  conditional = lambda x: (cdf(x) - f_lo) / (f_hi - f_lo)
  return stats.kstest(samples[keep], conditional).pvalue


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('family', list(FAMILIES))
def test_samples_pass_ks_test(family, dtype):
  for i, (logits, beta) in enumerate([(-2., 1.), (0., 10.), (1.5, 100.),
                                      (0.5, 5.)]):
    dist = FAMILIES[family](beta=dtype(beta), logits=dtype(logits))
    samples = dist.sample(20000, seed=(7, i)).numpy()
    dist64 = FAMILIES[family](beta=np.float64(beta), logits=np.float64(logits))
    pvalue = _censored_ks(samples.astype(np.float64), dist64, logits, beta)
    assert pvalue > 1e-3, (family, logits, beta, pvalue)


@pytest.mark.parametrize('family', list(FAMILIES))
def test_reparameterized_gradient_matches_finite_difference(family):
  fn = lambda z: np.sin(3. * z) + z ** 2
  num_samples = 100000
  for i, (logits, beta) in enumerate([(-1.5, 2.), (0.5, 10.)]):
    h = 1e-4
    expected = (reference_expectation(family, fn, logits + h, beta) -
                reference_expectation(family, fn, logits - h, beta)) / (2 * h)
    logits_var = tf.Variable(np.full([num_samples], logits))
    with tf.GradientTape() as tape:
      zeta = FAMILIES[family](beta=beta, logits=logits_var).sample(
          seed=(11, i))
      values = tf.sin(3. * zeta) + zeta ** 2
    per_sample = tape.gradient(values, logits_var).numpy()
    estimate = per_sample.mean()
    stderr = per_sample.std() / np.sqrt(num_samples)
    assert abs(estimate - expected) < 4. * stderr + 1e-4, (
        family, logits, beta, estimate, expected, stderr)


@pytest.mark.parametrize('family', list(FAMILIES))
def test_float32_extremes_are_finite(family):
  logits = tf.Variable(np.array([-30., -20., -5., 0., 5., 20., 30.],
                                np.float32)[:, None])
  beta = tf.Variable(np.array([1., 5., 20., 50., 100., 200.], np.float32))
  with tf.GradientTape() as tape:
    dist = FAMILIES[family](beta=beta, logits=logits)
    zeta = dist.sample(500, seed=(3, 4))
    log_prob = dist.log_prob(zeta)
    loss = tf.reduce_sum(tf.sin(3. * zeta)) + tf.reduce_sum(log_prob)
  grad_logits, grad_beta = tape.gradient(loss, [logits, beta])
  for name, value in [('sample', zeta), ('log_prob', log_prob),
                      ('d/dlogits', grad_logits), ('d/dbeta', grad_beta)]:
    assert np.all(np.isfinite(value.numpy())), f'{family}: non-finite {name}'
  if family != 'logistic':
    assert np.all((zeta.numpy() >= 0.) & (zeta.numpy() <= 1.))


@pytest.mark.parametrize('family', list(FAMILIES))
def test_beta_200_rounds_to_bernoulli(family):
  probs = np.array([0.1, 0.5, 0.9], np.float32)
  n = 20000
  dist = FAMILIES[family](beta=np.float32(200.), probs=probs)
  rounded = np.round(dist.sample(n, seed=(5, 6)).numpy())
  frequency = rounded.mean(axis=0)
  stderr = np.sqrt(probs * (1 - probs) / n)
  np.testing.assert_array_less(np.abs(frequency - probs), 4 * stderr + 4e-3)


@pytest.mark.parametrize('family', ['exponential', 'spike_exp'])
def test_beta_200_quantile_is_the_bernoulli_inverse_cdf(family):
  """Same rho: round(F^-1(rho)) = 1[rho > 1 - q], the Bernoulli inverse CDF."""
  logits = np.array([-30., -3., 0., 2., 30.], np.float32)[:, None]
  rho = np.random.default_rng(0).uniform(size=[1, 5000]).astype(np.float32)
  q = special.expit(logits.astype(np.float64))
  keep = np.abs(rho - (1. - q)) > 1e-4
  zeta = FAMILIES[family](beta=np.float32(200.), logits=logits).quantile(
      np.broadcast_to(rho, [5, 5000])).numpy()
  bernoulli = (rho > 1. - q).astype(np.float32)
  np.testing.assert_array_equal(np.round(zeta)[keep],
                                np.broadcast_to(bernoulli, zeta.shape)[keep])


@pytest.mark.parametrize('family', list(FAMILIES))
def test_mean_matches_quadrature(family):
  for logits, beta in [(-1., 1.), (2., 10.), (0.3, 50.)]:
    expected = reference_expectation(family, lambda z: z, logits, beta)
    got = FAMILIES[family](beta=beta, logits=logits).mean().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
