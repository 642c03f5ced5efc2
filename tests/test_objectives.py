"""The KLs of Eqs. 4, 5 and Sec. 5 and the log Z gradient, against independent math."""

import itertools

import numpy as np
from scipy import special
import tensorflow as tf

from dvae_tf import graphs
from dvae_tf.math import objectives
from dvae_tf import priors
from dvae_tf.math.posterior import PosteriorSample
from dvae_tf.math.smoothing import get_smoothing
from dvae_tf.distributions import BoltzmannMachine, OverlappingExponential, RBM
from tests import smoothing_reference as ref

BETA = 5.
NUM_MC = 200_000


def bernoulli_kl_np(a, b):
  q, p = special.expit(a), special.expit(b)
  return q * np.log(q / p) + (1 - q) * np.log((1 - q) / (1 - p))


def integrate(fn):
  """Integral over [0, 1] of fn(zeta [K]) -> [K, ...], by Gauss-Legendre."""
  return ref.gauss_legendre(fn, 0., 1., num_panels=400)


def mc_check(samples, expected):
  samples = np.asarray(samples, np.float64)
  se = samples.std() / np.sqrt(len(samples))
  assert abs(samples.mean() - expected) < 4 * se + 1e-6, (
      samples.mean(), expected, se)


def sample_zeta(logits, n, seed):
  dist = OverlappingExponential(beta=np.float64(BETA),
                                logits=np.float64(logits))
  return dist, dist.sample(n, seed=seed)


def test_bernoulli_kl_and_entropy_closed_forms():
  a = np.array([-30., -5., -0.3, 0., 2., 30.])
  b = np.array([4., -1., 0.7, 0., -3., 29.])
  np.testing.assert_allclose(objectives.bernoulli_kl(a, b),
                             bernoulli_kl_np(a, b), rtol=1e-6, atol=1e-12)
  q = special.expit(a)
  entropy = -special.xlogy(q, q) - special.xlogy(1 - q, 1 - q)
  np.testing.assert_allclose(objectives.bernoulli_entropy(a), entropy,
                             rtol=1e-6, atol=1e-12)


# A two-group toy: one unit per group, q2 and p2 depend linearly on zeta1.
Q1, Q2, Q2_SLOPE = 0.7, -0.4, 1.3
P1, P2, P2_SLOPE = -0.2, 0.5, -1.1


def test_joint_kl_matches_quadrature():
  """Eq. 4: KL(q(z1)||p(z1)) + E_q(zeta1)[KL(q(z2|zeta1)||p(z2|zeta1))]."""
  expected = bernoulli_kl_np(Q1, P1) + integrate(
      lambda zeta: ref.mixture_density('exponential', zeta, Q1, BETA) *
      bernoulli_kl_np(Q2 + Q2_SLOPE * zeta, P2 + P2_SLOPE * zeta))
  _, zeta1 = sample_zeta(Q1, NUM_MC, seed=(1, 2))
  ones = tf.ones_like(zeta1)
  kl = objectives.joint_kl(
      [Q1 * ones[:, None], (Q2 + Q2_SLOPE * zeta1)[:, None]],
      [P1 * ones[:, None], (P2 + P2_SLOPE * zeta1)[:, None]])
  mc_check(kl, expected)


def test_marginal_kl_matches_quadrature():
  """Eq. 5: KL(q(zeta1)||p(zeta1)) + E[KL(q(zeta2|zeta1)||p(zeta2|zeta1))]."""

  def mixture_kl(q_logits, p_logits):
    def integrand(zeta):
      q = ref.mixture_density('exponential', zeta, q_logits, BETA)
      p = ref.mixture_density('exponential', zeta, p_logits, BETA)
      return q * np.log(q / p)
    return integrate(integrand)

  inner = lambda zeta1: np.array([mixture_kl(Q2 + Q2_SLOPE * z,
                                             P2 + P2_SLOPE * z) for z in zeta1])
  expected = mixture_kl(Q1, P1) + integrate(
      lambda zeta: ref.mixture_density('exponential', zeta, Q1, BETA) *
      inner(zeta))
  n = 100_000
  _, zeta1 = sample_zeta(Q1, n, seed=(3, 4))
  q2 = OverlappingExponential(beta=np.float64(BETA),
                              logits=Q2 + Q2_SLOPE * zeta1)
  zeta2 = q2.sample(seed=(5, 6))
  p2 = OverlappingExponential(beta=np.float64(BETA),
                              logits=P2 + P2_SLOPE * zeta1)
  kl = objectives.marginal_kl(
      [OverlappingExponential(beta=np.float64(BETA),
                              logits=tf.fill([n, 1], np.float64(Q1))), q2[:, None]],
      [OverlappingExponential(beta=np.float64(BETA),
                              logits=tf.fill([n, 1], np.float64(P1))), p2[:, None]],
      [zeta1[:, None], zeta2[:, None]])
  mc_check(kl, expected)


def _states(n):
  return np.array(list(itertools.product([0., 1.], repeat=n)))


def _exact_log_z(a1, a2, w):
  z = _states(len(a1) + len(a2))
  z1, z2 = z[:, :len(a1)], z[:, len(a1):]
  return special.logsumexp(z1 @ a1 + z2 @ a2 + np.einsum('si,ij,sj->s', z1, w,
                                                         z2))


def test_rbm_kl_single_group_equals_enumeration(rng):
  """One factorial group: KL(q||p) summed over all 2^(n1+n2) states."""
  a1, a2, w = rng.normal(size=2), rng.normal(size=3), rng.normal(size=(2, 3))
  logits = rng.normal(size=5) * 2
  log_z = _exact_log_z(a1, a2, w)
  z = _states(5)
  q = np.prod(np.where(z == 1, special.expit(logits), special.expit(-logits)),
              axis=1)
  log_p = (z[:, :2] @ a1 + z[:, 2:] @ a2 +
           np.einsum('si,ij,sj->s', z[:, :2], w, z[:, 2:]) - log_z)
  expected = np.sum(q * (np.log(q) - log_p))
  rbm = RBM(a1, a2, w)
  # nu is irrelevant within one group (mu is used): pass garbage to prove it.
  kl = objectives.boltzmann_kl(rbm, [5], [logits[None]], [logits[None] + 3.], log_z)
  np.testing.assert_allclose(kl, [expected], rtol=1e-10)


def test_rbm_kl_two_groups_matches_quadrature(rng):
  """Sec. 5 KL for z1 = group 1 (1 unit), z2 = group 2 (2 units, given zeta1).

  KL = sum_{z1} q(z1) int r(zeta|z1) sum_{z2} q(z2|zeta)
       [log q(z1) + log q(z2|zeta) + E(z) + log Z] dzeta   (r terms cancel).
  """
  a1, a2, w = rng.normal(size=1), rng.normal(size=2), rng.normal(size=(1, 2))
  q1 = 0.4
  c, d = np.array([0.3, -0.8]), np.array([1.5, -0.7])
  log_z = _exact_log_z(a1, a2, w)
  z2_states = _states(2)

  def inner(zeta, z1):
    mu2 = special.expit(c + d * zeta[:, None])  # [K, 2]
    total = 0.
    for z2 in z2_states:
      q_z2 = np.prod(np.where(z2 == 1, mu2, 1 - mu2), axis=1)
      energy = -(a1[0] * z1 + a2 @ z2 + z1 * (w[0] @ z2))
      total = total + q_z2 * (np.log(q_z2) + energy + log_z)
    return total

  expected = 0.
  for z1, prob in ((0., 1 - special.expit(q1)), (1., special.expit(q1))):
    r = lambda x: ref.component_density('exponential', x if z1 == 0 else 1 - x,
                                        BETA)
    expected += prob * (np.log(prob) + integrate(lambda x: r(x) * inner(x, z1)))

  dist, zeta1 = sample_zeta(q1, NUM_MC, seed=(7, 8))
  zeta1 = zeta1[:, None]
  kl = objectives.boltzmann_kl(
      RBM(a1, a2, w), [1, 2],
      [tf.fill([NUM_MC, 1], np.float64(q1)), c + d * zeta1],
      [dist.posterior_logits(zeta1[:, 0])[:, None], tf.zeros([NUM_MC, 2],
                                                             tf.float64)],
      log_z)
  mc_check(kl, expected)


def test_boltzmann_kl_single_group_equals_enumeration(rng):
  """Mean-field q on a 4-colour graph: the Sec. 5 KL is the exact
  sum over all 2^12 states of q log(q / p)."""
  graph = graphs.parse_graph('zephyr:1,1')
  n = graph.num_nodes
  b, w = rng.normal(size=n), rng.normal(size=graph.num_edges)
  logits = rng.normal(size=n) * 2
  machine = BoltzmannMachine(graph, b, w)
  z = _states(n)
  log_p = (z @ b + np.sum(w * z[:, graph.edges[:, 0]] * z[:, graph.edges[:, 1]],
                          -1))
  log_p -= special.logsumexp(log_p)
  log_q = np.sum(np.where(z == 1, -np.logaddexp(0, -logits),
                          -np.logaddexp(0, logits)), axis=1)
  expected = np.sum(np.exp(log_q) * (log_q - log_p))
  kl = objectives.boltzmann_kl(machine, [n], [logits[None]],
                               [logits[None] - 2.], machine.log_normalizer())
  np.testing.assert_allclose(kl, [expected], rtol=1e-9)


def triangle_kl_inputs(b, w, seed=(7, 8)):
  """The KL estimate's inputs on a triangle with groups {0} and {1, 2}.

  Unit 0 (group 1) couples to units 1 and 2 of group 2 (across groups, E[nu
  mu]), and units 1 and 2 to each other (within a group, E[mu mu]).
  """
  graph = graphs.Graph(range(3), [(0, 1), (0, 2), (1, 2)], name='triangle')
  machine = BoltzmannMachine(graph, b, w)
  dist, zeta1 = sample_zeta(Q_TRI, NUM_MC, seed=seed)
  zeta1 = zeta1[:, None]
  return machine, dict(
      group_sizes=[1, 2],
      posterior_logits=[tf.fill([NUM_MC, 1], np.float64(Q_TRI)),
                        C_TRI + D_TRI * zeta1],
      nu_logits=[dist.posterior_logits(zeta1[:, 0])[:, None],
                 tf.zeros([NUM_MC, 2], tf.float64)])


Q_TRI = 0.4
C_TRI, D_TRI = np.array([0.3, -0.8]), np.array([1.5, -0.7])


def test_boltzmann_kl_edges_within_and_across_groups_match_quadrature(rng):
  """KL = sum_{z1} q(z1) int r(zeta|z1) sum_{z2} q(z2|zeta)
  [log q(z1) + log q(z2|zeta) + E(z) + log Z] dzeta on the triangle."""
  b, w = rng.normal(size=3), rng.normal(size=3)
  z = _states(3)
  log_z = special.logsumexp(z @ b + w[0] * z[:, 0] * z[:, 1] +
                            w[1] * z[:, 0] * z[:, 2] + w[2] * z[:, 1] * z[:, 2])

  def inner(zeta, z1):
    mu2 = special.expit(C_TRI + D_TRI * zeta[:, None])  # [K, 2]
    total = 0.
    for z2 in _states(2):
      q_z2 = np.prod(np.where(z2 == 1, mu2, 1 - mu2), axis=1)
      energy = -(b[0] * z1 + b[1:] @ z2 + w[0] * z1 * z2[0] +
                 w[1] * z1 * z2[1] + w[2] * z2[0] * z2[1])
      total = total + q_z2 * (np.log(q_z2) + energy + log_z)
    return total

  expected = 0.
  for z1, prob in ((0., 1 - special.expit(Q_TRI)), (1., special.expit(Q_TRI))):
    r = lambda x: ref.component_density('exponential', x if z1 == 0 else 1 - x,
                                        BETA)
    expected += prob * (np.log(prob) + integrate(lambda x: r(x) * inner(x, z1)))
  machine, inputs = triangle_kl_inputs(b, w)
  mc_check(objectives.boltzmann_kl(machine, log_z=log_z, **inputs), expected)


def test_boltzmann_kl_gradient_matches_finite_differences(rng):
  """d KL / d(b, w) of the estimate at fixed noise, exact log Z included."""
  b, w = rng.normal(size=3), rng.normal(size=3)

  def mean_kl(b, w):
    machine, inputs = triangle_kl_inputs(b, w)
    return tf.reduce_mean(objectives.boltzmann_kl(
        machine, log_z=machine.log_normalizer(), **inputs))

  params = [tf.constant(b), tf.constant(w)]
  with tf.GradientTape() as tape:
    tape.watch(params)
    value = mean_kl(*params)
  grads = tape.gradient(value, params)
  eps = 1e-5
  for k, (name, g) in enumerate(zip(('b', 'w'), grads)):
    for i in range(3):
      step = np.zeros(3)
      step[i] = eps
      plus = [p + (step if j == k else 0.) for j, p in enumerate((b, w))]
      minus = [p - (step if j == k else 0.) for j, p in enumerate((b, w))]
      fd = (float(mean_kl(*plus)) - float(mean_kl(*minus))) / (2 * eps)
      assert abs(float(g[i]) - fd) < 1e-6, (name, i, float(g[i]), fd)


def test_log_z_gradient_of_prior_matches_exact(rng):
  """The PCD surrogate's gradient equals grad log Z within Monte Carlo error."""
  prior = priors.RBMPrior([2, 2], smoothing=get_smoothing('exponential'),
                         num_chains=20000, num_gibbs_sweeps=30)
  for v, value in ((prior.linear_left, rng.normal(size=2)),
                   (prior.linear_right, rng.normal(size=2)),
                   (prior.weights_rbm, rng.normal(size=(2, 2)))):
    v.assign(value.astype(np.float32))
  logits = [tf.constant([[0.3, -0.2]]), tf.constant([[1.0, 0.5]])]
  dists = [OverlappingExponential(beta=5., logits=l) for l in logits]
  samples = [d.sample(seed=(i, 0)) for i, d in enumerate(dists)]
  posterior = PosteriorSample(logits, samples, samples, dists)
  variables = [prior.linear_left, prior.linear_right, prior.weights_rbm]
  with tf.GradientTape(persistent=True) as tape:
    surrogate_kl = prior.kl(posterior, 5., seed=(1, 1), training=True)
    # The KL at the stored log Z, with the exact log Z's gradient.
    exact_kl = (prior.kl(posterior, 5.) - prior.log_z_estimate +
                prior.rbm().log_normalizer())
  g_surrogate = tape.gradient(surrogate_kl, variables)
  g_exact = tape.gradient(exact_kl, variables)
  for gs, ge in zip(g_surrogate, g_exact):
    # Each entry is a difference of expectations of {0, 1} variables over
    # 20000 chains: standard error <= 0.5 / sqrt(20000) = 0.0035.
    np.testing.assert_allclose(gs, ge, atol=0.02)
  # The surrogate leaves the KL's value at the stored log Z estimate.
  value_gap = surrogate_kl - prior.kl(posterior, 5.)
  np.testing.assert_allclose(value_gap, 0., atol=1e-5)
