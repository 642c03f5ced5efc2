"""p(z) = N(0, I): the prior of Table 3's "all continuous" row."""

import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf.priors import base

tfd = tfp.distributions


class NormalPrior(base.Prior):
  """p(z) = N(0, I) over continuous groups.

  The posterior groups are factorial Normals (`latents.Normal`), so the KL is
  in closed form given the sampled earlier groups:
  sum_i KL(q(z_i | x, z_<i) || N(0, I)). It has no parameters.
  """

  def _standard_normal(self, z):
    return tfd.Normal(tf.zeros([], z.dtype), tf.ones([], z.dtype))

  def _kl(self, posterior, beta, seed, training):
    """sum_i KL(q(z_i | x, z_<i) || N(0, I)) in closed form, [N]."""
    del beta, seed, training
    return tf.add_n([
        tf.reduce_sum(tfd.kl_divergence(q, self._standard_normal(z)), -1)
        for q, z in zip(posterior.distributions, posterior.samples)])

  def _log_prob(self, z_groups, training):
    """log N(z; 0, I) summed over all groups, [N]."""
    del training
    return tf.add_n([tf.reduce_sum(self._standard_normal(z).log_prob(z), -1)
                     for z in z_groups])

  def _sample(self, num_samples, seed):
    """A list of [num_samples, units_i] standard Normal groups."""
    z = tf.random.stateless_normal([num_samples, sum(self.group_sizes)],
                                   seed=tfp.random.sanitize_seed(seed))
    return tf.split(z, self.group_sizes, axis=-1)
