"""The KL terms of the variational bounds of Secs. 4 and 5.

Every function takes per-group lists (group i of the hierarchical posterior
q(z_i | x, zeta_<i), Fig. 2(d)) of tensors shaped [N, units_i] and returns a
per-example tensor [N].
"""

import numpy as np
import tensorflow as tf


def bernoulli_kl(q_logits, p_logits):
  """KL(Bernoulli(sigmoid(q)) || Bernoulli(sigmoid(p))), elementwise.

  q log(q/p) + (1-q) log((1-q)/(1-p)) with log q = -softplus(-l) and
  log(1-q) = -softplus(l), so it is finite for any finite logits.
  """
  q = tf.math.sigmoid(q_logits)
  return (q * (tf.math.softplus(-p_logits) - tf.math.softplus(-q_logits)) +
          (1. - q) * (tf.math.softplus(p_logits) - tf.math.softplus(q_logits)))


def bernoulli_entropy(logits):
  """H(Bernoulli(sigmoid(l))) = q softplus(-l) + (1-q) softplus(l), elementwise."""
  q = tf.math.sigmoid(logits)
  return q * tf.math.softplus(-logits) + (1. - q) * tf.math.softplus(logits)


def _sum_groups(terms):
  return tf.add_n([tf.reduce_sum(t, axis=-1) for t in terms])


def joint_kl(posterior_logits, prior_logits):
  """The KL of the joint ELBO, Eq. 4.

  KL(q(z_1|x) || p(z_1)) + sum_{i>1} KL(q(z_i|x, zeta_<i) || p(z_i|zeta_<i)),
  one Monte Carlo sample of zeta_<i (the logits of group i were computed from
  it) and the Bernoulli KLs in closed form: the r(zeta|z) terms of the joint
  bound cancel (Appendix D notes).

  Args:
    posterior_logits: list of [N, units_i] logits of q(z_i | x, zeta_<i).
    prior_logits: list of [N, units_i] (or broadcastable) logits of
      p(z_i | zeta_<i).

  Returns:
    [N] KL estimates.
  """
  return _sum_groups([bernoulli_kl(q, p) for q, p in
                      zip(posterior_logits, prior_logits)])


def marginal_kl(posterior_distributions, prior_distributions, samples):
  """The KL of the marginal ELBO, Eq. 5, by Monte Carlo.

  sum_i [log q(zeta_i | x, zeta_<i) - log p(zeta_i | zeta_<i)] at the sampled
  zeta_i, where both densities are smoothed mixtures (Eq. 2) of the same
  family and beta, with the posterior's and the prior's probabilities.

  Args:
    posterior_distributions: list of the posterior mixtures per group.
    prior_distributions: list of the prior mixtures per group.
    samples: list of [N, units_i] samples drawn from the posterior mixtures.

  Returns:
    [N] single-sample KL estimates.
  """
  return _sum_groups([q.log_prob(s) - p.log_prob(s) for q, p, s in
                      zip(posterior_distributions, prior_distributions,
                          samples)])


def edge_group_masks(graph, group_sizes):
  """Which posterior group comes first on each edge, as 0/1 [E] arrays.

  Args:
    graph: a `dvae_tf.graphs.Graph`; edge e = (i, j), i < j in unit order.
    group_sizes: units per posterior group, in order, covering the units.

  Returns:
    (earlier, later, same): NumPy float arrays [E], 1 where g(i) < g(j),
    g(i) > g(j), g(i) = g(j).
  """
  groups = np.repeat(np.arange(len(group_sizes)), group_sizes)
  g_i, g_j = groups[graph.edges[:, 0]], groups[graph.edges[:, 1]]
  return tuple(mask.astype(np.float32)
               for mask in (g_i < g_j, g_i > g_j, g_i == g_j))


def boltzmann_cross_entropy(machine, group_sizes, mu, nu):
  """E_q[E(z)] for a hierarchical factorial q and a Boltzmann machine (Sec. 5).

  With z the concatenation of all groups in the machine's unit order,
      E_q[E(z)] = -b . mu - sum_{(i,j) in E} w_ij E_q[z_i z_j].
  Unit i of group g(i) affects later groups only through its zeta_i, and
  E[z_i | zeta_i] = nu_i, so for g(i) < g(j), E_q[z_i z_j] = E[nu_i mu_j]
  (and E[mu_i nu_j] for g(i) > g(j)); within one group the units are
  independent given x and zeta_<g, so E_q[z_i z_j] = E[mu_i mu_j]. The
  linear terms use E_q[nu] = mu (the final expression of Sec. 5). For the
  RBM with two groups this is -a1.mu1 - a2.mu2 - nu1^T W mu2; for one group
  (mean-field), nu is replaced by mu (Appendix E notes). Edges within a
  group appear when a group holds several colour classes.

  Args:
    machine: a `dvae_tf.distributions.BoltzmannMachine` (or `RBM`) with
      sum(group_sizes) units.
    group_sizes: units per posterior group, in order.
    mu: [N, n], q(z = 1 | x, zeta_<g) of every unit.
    nu: [N, n], q(z = 1 | x, zeta_<=g) of every unit.

  Returns:
    [N] cross-entropies (without log Z).
  """
  total = tf.linalg.matvec(mu, machine.bias_tensor())
  for mask, x, y in zip(edge_group_masks(machine.graph, group_sizes),
                        (nu, mu, mu), (mu, nu, mu)):
    if mask.any():
      total += machine.pair_sum(x, y, None if mask.all() else mask)
  return -total


def boltzmann_kl(machine, group_sizes, posterior_logits, nu_logits, log_z):
  """KL(q(z, zeta | x) || p(z, zeta)) for a Boltzmann prior, Eq. 6 simplified
  (Sec. 5).

  log Z - sum_i H(q(z_i | x, zeta_<i)) + E_q[E(z)], the cross-entropy term
  from `boltzmann_cross_entropy` with mu = sigmoid(posterior_logits) and
  nu = sigmoid(nu_logits), nu_logits = `posterior_logits(zeta)` of each
  group's smoothing (logits + log r(zeta|1)/r(zeta|0)). Where that nu is
  exactly 0 or 1 (spike_exp), the reparameterized gradient of this estimate
  is biased; `dvae_tf.math.rolfe_gradient` supplies the missing term.

  Args:
    machine: the prior, a `dvae_tf.distributions.BoltzmannMachine`.
    group_sizes: units per posterior group.
    posterior_logits: list of [N, units_i] posterior logits.
    nu_logits: list of [N, units_i] logits of q(z_i = 1 | x, zeta_<=i).
    log_z: log Z, or during training a surrogate with the gradient of log Z
      (`log_z_gradient.log_z_with_pcd_gradient`).

  Returns:
    [N] KL values.
  """
  logits = tf.concat(posterior_logits, axis=-1)
  mu = tf.math.sigmoid(logits)
  nu = tf.math.sigmoid(tf.concat(nu_logits, axis=-1))
  entropy = tf.reduce_sum(bernoulli_entropy(logits), axis=-1)
  return log_z - entropy + boltzmann_cross_entropy(machine, group_sizes, mu,
                                                   nu)
