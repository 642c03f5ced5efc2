"""The directed prior of Sec. 4: factorial Bernoulli groups, each given the last."""

import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf.math import latents
from dvae_tf.networks import mlp as networks
from dvae_tf.math import objectives
from dvae_tf import sampling
from dvae_tf.priors import base
from dvae_tf import philox

tfd = tfp.distributions

OBJECTIVES = ('joint', 'marginal')


class FactorialPrior(base.Prior):
  """Directed prior p(z_1) prod_i p(z_i | zeta_<i), each factorial Bernoulli.

  p(z_1) has trainable logits; p(z_i | zeta_<i) for i > 1 comes from a network
  of the same structure as the encoder's. `objective` selects the bound: the
  joint ELBO (Eq. 4, closed-form Bernoulli KLs) or the marginal ELBO (Eq. 5,
  Monte Carlo KL between the smoothed mixtures, a single-sample log ratio).
  """

  def __init__(self, group_sizes, smoothing=None, objective='joint',
               num_hidden=0, hidden_units=200, activation='tanh',
               batch_norm=False, centered_inputs=False, **kwargs):
    super().__init__(group_sizes, smoothing=smoothing, **kwargs)
    self.centered_inputs = centered_inputs
    if objective not in OBJECTIVES:
      raise ValueError(f'objective={objective!r} is not one of {OBJECTIVES}.')
    if objective == 'marginal' and smoothing is None:
      raise ValueError('The marginal ELBO (Eq. 5) needs the smoothing of the '
                       'latents; got none.')
    self.objective = objective
    self.kl_is_log_ratio = objective == 'marginal'
    self._net_config = dict(num_hidden=num_hidden, hidden_units=hidden_units,
                            activation=activation, batch_norm=batch_norm)
    self.first_logits = self.add_weight(
        shape=(self.group_sizes[0],), initializer='zeros', name='first_logits')
    self.nets = [networks.mlp(units, name=f'prior_net_{i + 1}',
                              **self._net_config)
                 for i, units in enumerate(self.group_sizes[1:], start=1)]

  @classmethod
  def from_spec(cls, spec):
    return cls(spec.group_sizes, smoothing=spec.smoothing,
               objective=spec.objective, centered_inputs=spec.centered_inputs,
               name='prior', **spec.network)

  def group_logits(self, zetas, training=False):
    """Logits of p(z_i | zeta_<i) for every group, given zeta of all groups."""
    batch = tf.shape(zetas[0])[0]
    logits = [tf.broadcast_to(self.first_logits,
                              [batch, self.group_sizes[0]])]
    for i, net in enumerate(self.nets, start=1):
      logits.append(net(latents.network_input(zetas[:i],
                                              self.centered_inputs),
                        training=training))
    return logits

  def _kl(self, posterior, beta, seed, training):
    """KL term of Eq. 4 (joint) or Eq. 5 (marginal), [N]."""
    del seed
    prior_logits = self.group_logits(posterior.zetas, training=training)
    if self.objective == 'joint':
      return objectives.joint_kl(posterior.params, prior_logits)
    return objectives.marginal_kl(
        posterior.distributions,
        [self.smoothing(l, beta) for l in prior_logits], posterior.samples)

  def _log_prob(self, z_groups, training):
    """log p(z) = sum_i log Bernoulli(z_i; p(z_i | z_<i)), binary z."""
    logits = self.group_logits(z_groups, training=training)
    return tf.add_n([tf.reduce_sum(tfd.Bernoulli(logits=l, dtype=z.dtype)
                                   .log_prob(z), -1)
                     for l, z in zip(logits, z_groups)])

  def _sample(self, num_samples, seed):
    """Ancestral binary sample, a list of [num_samples, units_i]."""
    seeds = philox.split(seed, n=len(self.group_sizes))
    z = []
    for i, units in enumerate(self.group_sizes):
      if i == 0:
        logits = tf.broadcast_to(self.first_logits, [num_samples, units])
      else:
        logits = self.nets[i - 1](
            latents.network_input(z, self.centered_inputs), training=False)
      z.append(sampling.bernoulli_sample(logits, seeds[i]))
    return z

  def get_config(self):
    config = super().get_config()
    config.update(objective=self.objective,
                  centered_inputs=self.centered_inputs, **self._net_config)
    return config
