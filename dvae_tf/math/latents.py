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

`LATENT_TYPES` maps the names configs use to builders of these types; the
hierarchical posterior over groups of them is `dvae_tf.math.posterior`.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf.math import objectives
from dvae_tf import sampling
from dvae_tf import philox

tfd = tfp.distributions

_SOFTPLUS_INV_ONE = float(np.log(np.expm1(1.)))


def network_input(zetas, centered):
  """What networks reading zeta see: zeta, or 2 zeta - 1 if `centered`.

  Tucker et al. (REBAR), whose protocol Table 1 follows, feed sampled
  latents onward as 2z - 1, in {-1, 1}.

  Args:
    zetas: a list of [N, units_i] tensors.
    centered: whether to map zeta to 2 zeta - 1.

  Returns:
    [N, sum units_i], the concatenation.
  """
  z = tf.concat(zetas, axis=-1)
  return 2. * z - 1. if centered else z


class SmoothedBinary:
  """Factorial Bernoulli units relaxed by a `smoothing.Smoothing`.

  With `centered`, networks that read the units see 2 zeta - 1
  (`network_input`).
  """

  params_per_unit = 1
  binary = True

  def __init__(self, smoothing, centered=False):
    if smoothing is None:
      raise ValueError('Binary latents need a smoothing (a key of '
                       '`smoothing.SMOOTHINGS`); got none.')
    self.smoothing = smoothing
    self.centered = centered

  def network_input(self, zetas):
    """The input of networks that read these groups (`network_input`)."""
    return network_input(zetas, self.centered)

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
      z = sampling.bernoulli_sample(params, seed)
    return z, self.log_prob(params, z)

  def mean(self, params):
    """E[z] = q(z = 1) = sigmoid(params), [N, units]."""
    return tf.math.sigmoid(params)

  def log_prob(self, params, z):
    """sum_units log Bernoulli(z; sigmoid(params)), [N]."""
    return sampling.bernoulli_log_prob(params, z, axis=-1)

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
  binary = False

  def __init__(self, smoothing=None, centered=False):
    del smoothing, centered  # Continuous: nothing to relax or center.

  def network_input(self, zetas):
    """The groups as they are, concatenated."""
    return network_input(zetas, False)

  def distribution(self, params):
    loc, raw = tf.split(params, 2, axis=-1)
    return tfd.Normal(loc, tf.math.softplus(raw + _SOFTPLUS_INV_ONE))

  def relaxed_sample(self, params, beta, seed):
    """(distribution, sample, sample): the variable is its own relaxation."""
    del beta
    distribution = self.distribution(params)
    sample = self._sample(distribution, seed)
    return distribution, sample, sample

  def exact_sample(self, params, seed=None):
    """(h, log q(h) [N]); with `seed=None`, the mean."""
    distribution = self.distribution(params)
    h = (distribution.mean() if seed is None
         else self._sample(distribution, seed))
    return h, tf.reduce_sum(distribution.log_prob(h), axis=-1)

  @staticmethod
  def _sample(distribution, seed):
    """h = loc + scale * eps, eps ~ N(0, 1) by Philox (reparameterized)."""
    eps = philox.normal(tf.shape(distribution.loc), seed, distribution.dtype)
    return eps * distribution.scale + distribution.loc

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


# Registry: name -> builder(smoothing) of a latent type.
LATENT_TYPES = {'bernoulli': SmoothedBinary, 'normal': Normal}


def get_latent_type(name, smoothing=None):
  """The latent type registered as `name`, relaxed by `smoothing` if binary."""
  if name not in LATENT_TYPES:
    raise ValueError(f'latent type {name!r} is not one of '
                     f'{sorted(LATENT_TYPES)}.')
  return LATENT_TYPES[name](smoothing)
