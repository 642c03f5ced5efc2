"""Latent variable types, and the hierarchical posterior over groups of them.

A latent type says how a network's output `params` [N, units * P] defines
the variables of one group:

- `SmoothedBinary(smoothing)`: factorial Bernoulli units relaxed by a
  smoothing r(zeta|z) (Secs. 3-4); params are logits (P = 1). Training
  samples zeta; evaluation takes the binary limit (beta -> infinity), zeta = z.
- `Normal()`: factorial Normal units (the local variables of DVAE++, Sec. 6.1,
  and the "all continuous" row of Table 3); params are [loc | raw scale]
  (P = 2), scale = softplus(raw + softplus^-1(1)), so zero outputs give
  N(0, 1). The variable is its own relaxation.

Each type offers `relaxed_sample` (training: a reparameterized sample, what
later groups see, and the distribution), `exact_sample` (evaluation: the
unrelaxed variable and its log q), `mean` and `log_prob` of the unrelaxed
variable, and `kl` of a local group against its prior's params.

`hierarchical_relaxed` / `hierarchical_exact` run the chain of groups
q(z_i | features, zeta_<i) of Fig. 2(d), each group's network reading the
features and the earlier groups' zetas (or binary z): the posterior of the
feed-forward models and of DVAE++'s global variables.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf import objectives
from dvae_tf import priors
from dvae_tf.distributions import rbm as rbm_lib

tfd = tfp.distributions

_SOFTPLUS_INV_ONE = float(np.log(np.expm1(1.)))


class SmoothedBinary:
  """Factorial Bernoulli units relaxed by a `smoothing.Smoothing`."""

  params_per_unit = 1

  def __init__(self, smoothing):
    self.smoothing = smoothing

  def relaxed_sample(self, params, beta, seed):
    """(distribution, its sample, zeta) with params = logits [N, units]."""
    distribution = self.smoothing(params, beta)
    sample = distribution.sample(seed=seed)
    return distribution, sample, self.smoothing.to_zeta(sample)

  def exact_sample(self, params, seed=None):
    """(z, log q(z) [N]): binary z ~ Bernoulli(sigmoid(params)).

    With `seed=None`, the mode z = [params > 0] instead of a sample.
    """
    if seed is None:
      z = tf.cast(params > 0., params.dtype)
    else:
      z = rbm_lib.bernoulli_sample(params, seed)
    return z, self.log_prob(params, z)

  def mean(self, params):
    """E[z] = q(z = 1) = sigmoid(params), [N, units]."""
    return tf.math.sigmoid(params)

  def log_prob(self, params, z):
    """sum_units log Bernoulli(z; sigmoid(params)), [N]."""
    return tf.reduce_sum(
        tfd.Bernoulli(logits=params, dtype=z.dtype).log_prob(z), axis=-1)

  def kl(self, posterior, sample, prior_params, beta):
    """log q(zeta) - log p(zeta) of the smoothed mixtures at the sample, [N].

    The KL of the marginal ELBO (Eq. 5), which Sec. 7.3 uses for Bernoulli
    local variables: `objectives.marginal_kl` of one group.
    """
    return objectives.marginal_kl([posterior],
                                  [self.smoothing(prior_params, beta)],
                                  [sample])


class Normal:
  """Factorial Normal units; params = [loc | raw scale]."""

  params_per_unit = 2

  def distribution(self, params):
    loc, raw = tf.split(params, 2, axis=-1)
    return tfd.Normal(loc, tf.math.softplus(raw + _SOFTPLUS_INV_ONE))

  def relaxed_sample(self, params, beta, seed):
    """(distribution, sample, sample): the variable is its own relaxation."""
    del beta
    distribution = self.distribution(params)
    sample = distribution.sample(seed=seed)
    return distribution, sample, sample

  def exact_sample(self, params, seed=None):
    """(h, log q(h) [N]); with `seed=None`, the mean."""
    distribution = self.distribution(params)
    h = (distribution.mean() if seed is None
         else distribution.sample(seed=seed))
    return h, tf.reduce_sum(distribution.log_prob(h), axis=-1)

  def mean(self, params):
    """E[h] = loc, [N, units]."""
    return self.distribution(params).mean()

  def log_prob(self, params, h):
    return tf.reduce_sum(self.distribution(params).log_prob(h), axis=-1)

  def kl(self, posterior, sample, prior_params, beta):
    """KL(q || p) in closed form, summed over units, [N].

    sum_u [log(s_p/s_q) + (s_q^2 + (m_q - m_p)^2) / (2 s_p^2) - 1/2].
    """
    del sample, beta
    return tf.reduce_sum(
        tfd.kl_divergence(posterior, self.distribution(prior_params)),
        axis=-1)


def hierarchical_relaxed(nets, features, latent, beta, seed, training=False):
  """A relaxed sample of q(z_1 | f) prod_i q(z_i | f, zeta_<i), Fig. 2(d).

  Args:
    nets: one network per group, [f, zeta_<i] -> params of group i.
    features: [N, F] features f of x.
    latent: the latent type of every group.
    beta: inverse temperature of the smoothing.
    seed: stateless seed.
    training: passed to the networks.

  Returns:
    A `priors.PosteriorSample` (logits = each group's params).
  """
  seeds = tfp.random.split_seed(seed, n=len(nets))
  params, samples, zetas, distributions = [], [], [], []
  for net, group_seed in zip(nets, seeds):
    p = net(tf.concat([features] + zetas, axis=-1), training=training)
    distribution, sample, zeta = latent.relaxed_sample(p, beta, group_seed)
    params.append(p)
    distributions.append(distribution)
    samples.append(sample)
    zetas.append(zeta)
  return priors.PosteriorSample(params, samples, zetas, distributions)


def hierarchical_exact(nets, features, latent, seed=None, training=False,
                       num_samples=1):
  """The unrelaxed hierarchical posterior: z_i ~ q(z_i | f, z_<i).

  Binary units in the binary limit (zeta = z), continuous ones as they are.
  With `seed=None`, each group's mode (or mean) instead of a sample.

  With `num_samples` = k, k samples per row of `features` [N, F], laid out
  as for features tiled k times ([k N] rows, sample-major) and drawn from
  the same random numbers; q(z_1 | f) depends on f only, so its network runs
  once per row and its params are tiled.

  Returns:
    (PosteriorSample with zetas = samples = z, [k N] rows; log q(z | x)
    [k N]).
  """
  seeds = (tfp.random.split_seed(seed, n=len(nets)) if seed is not None
           else [None] * len(nets))
  params, zs, log_q = [], [], 0.
  tiled = tf.tile(features, [num_samples, 1]) if len(nets) > 1 else None
  for net, group_seed in zip(nets, seeds):
    if zs:
      p = net(tf.concat([tiled] + zs, axis=-1), training=training)
    else:  # q(z_1 | f): once per row of f, then tiled.
      p = tf.tile(net(features, training=training), [num_samples, 1])
    z, group_log_q = latent.exact_sample(p, group_seed)
    params.append(p)
    zs.append(z)
    log_q += group_log_q
  return priors.PosteriorSample(params, zs, zs, None), log_q
