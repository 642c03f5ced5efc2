"""The KL terms of the variational bounds of Secs. 4 and 5.

Every function takes per-group lists (group i of the hierarchical posterior
q(z_i | x, zeta_<i), Fig. 2(d)) of tensors shaped [N, units_i] and returns a
per-example tensor [N].
"""

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


def earlier_group_mask(group_sizes, num_left, dtype):
  """[n1, n2] 1 where left unit a's group precedes right unit b's, else 0.

  These are the pairs whose E_q[z_a z_b] is E[nu_a mu_b] in
  `rbm_cross_entropy` (the others, in one group, use E[mu_a mu_b]).

  Args:
    group_sizes: units per posterior group, in order.
    num_left: n1, the units of the RBM's left half (the first n1 units).
    dtype: the mask's dtype.
  """
  groups = tf.repeat(tf.range(len(group_sizes)), group_sizes)
  return tf.cast(groups[:num_left, None] < groups[None, num_left:], dtype)


def rbm_cross_entropy(rbm, group_sizes, mu, nu):
  """E_q[E(z)] for a hierarchical factorial q and an RBM energy (Sec. 5).

  With z = [z1, z2] the concatenation of all groups (z1 its first n1 units),
      E_q[E(z)] = -a1 . mu1 - a2 . mu2 - sum_{a in z1, b in z2} W_ab E_q[z_a z_b].
  Unit a of group g(a) affects later groups only through its zeta_a, and
  E[z_a | zeta_a] = nu_a, so for g(a) < g(b), E_q[z_a z_b] = E[nu_a mu_b];
  within one group the units are independent given x and zeta_<g, so
  E_q[z_a z_b] = E[mu_a mu_b]. The linear terms use E_q[nu] = mu (the final
  expression of Sec. 5). For two groups this is -a1.mu1 - a2.mu2 - nu1^T W mu2;
  for one group (mean-field), nu1 is replaced by mu1 (Appendix E notes).

  Args:
    rbm: a `dvae_tf.distributions.RBM` with n1 + n2 = sum(group_sizes).
    group_sizes: units per posterior group, in order.
    mu: [N, n1 + n2], q(z = 1 | x, zeta_<g) of every unit.
    nu: [N, n1 + n2], q(z = 1 | x, zeta_<=g) of every unit.

  Returns:
    [N] cross-entropies (without log Z).
  """
  n1 = rbm.num_left
  earlier = earlier_group_mask(group_sizes, n1, mu.dtype)
  mu1, mu2 = mu[:, :n1], mu[:, n1:]
  left = nu[:, :n1]
  w = tf.convert_to_tensor(rbm.weights)
  coupling = (tf.reduce_sum(tf.matmul(left, w * earlier) * mu2, axis=-1) +
              tf.reduce_sum(tf.matmul(mu1, w * (1. - earlier)) * mu2, axis=-1))
  return -(tf.linalg.matvec(mu1, tf.convert_to_tensor(rbm.linear_left)) +
           tf.linalg.matvec(mu2, tf.convert_to_tensor(rbm.linear_right)) +
           coupling)


def rbm_kl(rbm, group_sizes, posterior_logits, nu_logits, log_z):
  """KL(q(z, zeta | x) || p(z, zeta)) for an RBM prior, Eq. 6 simplified (Sec. 5).

  log Z - sum_i H(q(z_i | x, zeta_<i)) + E_q[E(z)], the cross-entropy term
  from `rbm_cross_entropy` with mu = sigmoid(posterior_logits) and
  nu = sigmoid(nu_logits), nu_logits = `posterior_logits(zeta)` of each
  group's smoothing (logits + log r(zeta|1)/r(zeta|0)). Where that nu is
  exactly 0 or 1 (spike_exp), the reparameterized gradient of this estimate
  is biased; `dvae_tf.rolfe_gradient` supplies the missing term.

  Args:
    rbm: the prior, a `dvae_tf.distributions.RBM`.
    group_sizes: units per posterior group.
    posterior_logits: list of [N, units_i] posterior logits.
    nu_logits: list of [N, units_i] logits of q(z_i = 1 | x, zeta_<=i).
    log_z: log Z, or during training a surrogate with the gradient of log Z
      (`RBM.log_normalizer_surrogate`).

  Returns:
    [N] KL values.
  """
  logits = tf.concat(posterior_logits, axis=-1)
  mu = tf.math.sigmoid(logits)
  nu = tf.math.sigmoid(tf.concat(nu_logits, axis=-1))
  entropy = tf.reduce_sum(bernoulli_entropy(logits), axis=-1)
  return log_z - entropy + rbm_cross_entropy(rbm, group_sizes, mu, nu)
