"""Priors over the global latents: factorial (Sec. 4), RBM (Sec. 5), Normal.

A prior is a Keras layer with one interface, which `FeedForwardDVAE` (and the
convolutional model) calls without knowing which prior it has:

- `kl(posterior, smoothing, beta, seed, training)`: the KL term of the
  training bound, [N];
- `log_prob(z_groups, log_z=None)`: log p(z) of binary latents (the binary
  limit used for evaluation), [N];
- `sample(num_samples, seed)`: binary latents, a list of [n, units_i];
- `log_normalizer(...)`: log Z and how it was computed (zero for factorial).

`NormalPrior` is the continuous counterpart for the "all continuous" row of
Table 3: the same interface over Normal latents.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf import networks
from dvae_tf import objectives
from dvae_tf.distributions import RBM, PersistentChains, ais_log_normalizer
from dvae_tf.distributions import rbm as rbm_lib

tfd = tfp.distributions


@dataclasses.dataclass
class PosteriorSample:
  """One sample from the hierarchical posterior, per group (Fig. 2(d)).

  Attributes:
    logits: [N, units_i] logits of q(z_i = 1 | x, zeta_<i).
    samples: [N, units_i] the sampled variables (zeta, or logit-space y for
      Concrete); the binary z in the binary limit.
    zetas: [N, units_i] what later groups and the decoder see.
    distributions: the smoothed posterior mixtures (None in the binary limit).
  """
  logits: list
  samples: list
  zetas: list
  distributions: list


@dataclasses.dataclass(frozen=True)
class LogNormalizer:
  """log Z of a prior with how it was obtained."""
  value: float
  stderr: float
  method: str


class FactorialPrior(keras.layers.Layer):
  """Directed prior p(z_1) prod_i p(z_i | zeta_<i), each factorial Bernoulli.

  p(z_1) has trainable logits; p(z_i | zeta_<i) for i > 1 comes from a network
  of the same structure as the encoder's. `marginal` selects the bound: the
  joint ELBO (Eq. 4, closed-form Bernoulli KLs) or the marginal ELBO (Eq. 5,
  Monte Carlo KL between the smoothed mixtures).
  """

  def __init__(self, group_sizes, num_hidden=0, hidden_units=200,
               activation='tanh', batch_norm=False, marginal=False, **kwargs):
    super().__init__(**kwargs)
    self.group_sizes = list(group_sizes)
    self.marginal = marginal
    self._net_config = dict(num_hidden=num_hidden, hidden_units=hidden_units,
                            activation=activation, batch_norm=batch_norm)
    self.first_logits = self.add_weight(
        shape=(self.group_sizes[0],), initializer='zeros', name='first_logits')
    self.nets = [networks.mlp(units, name=f'prior_net_{i + 1}',
                              **self._net_config)
                 for i, units in enumerate(self.group_sizes[1:], start=1)]

  def group_logits(self, zetas, training=False):
    """Logits of p(z_i | zeta_<i) for every group, given zeta of all groups."""
    batch = tf.shape(zetas[0])[0]
    logits = [tf.broadcast_to(self.first_logits,
                              [batch, self.group_sizes[0]])]
    for i, net in enumerate(self.nets, start=1):
      logits.append(net(tf.concat(zetas[:i], axis=-1), training=training))
    return logits

  def kl(self, posterior, smoothing, beta, seed=None, training=False):
    """KL term of Eq. 4 (joint) or Eq. 5 (marginal), [N]."""
    del seed
    prior_logits = self.group_logits(posterior.zetas, training=training)
    if not self.marginal:
      return objectives.joint_kl(posterior.logits, prior_logits)
    return objectives.marginal_kl(
        posterior.distributions, [smoothing(l, beta) for l in prior_logits],
        posterior.samples)

  def log_prob(self, z_groups, log_z=None, training=False):
    """log p(z) = sum_i log Bernoulli(z_i; p(z_i | z_<i)), binary z."""
    del log_z
    logits = self.group_logits(z_groups, training=training)
    return tf.add_n([tf.reduce_sum(tfd.Bernoulli(logits=l, dtype=z.dtype)
                                   .log_prob(z), -1)
                     for l, z in zip(logits, z_groups)])

  def sample(self, num_samples, seed):
    """Ancestral binary sample, a list of [num_samples, units_i]."""
    seeds = tfp.random.split_seed(seed, n=len(self.group_sizes))
    z = []
    for i, units in enumerate(self.group_sizes):
      if i == 0:
        logits = tf.broadcast_to(self.first_logits, [num_samples, units])
      else:
        logits = self.nets[i - 1](tf.concat(z, axis=-1), training=False)
      z.append(rbm_lib.bernoulli_sample(logits, seeds[i]))
    return z

  def log_normalizer(self, **unused_kwargs):
    return LogNormalizer(0., 0., 'none (directed prior)')

  def get_config(self):
    config = super().get_config()
    config.update(group_sizes=self.group_sizes, marginal=self.marginal,
                  **self._net_config)
    return config


class RBMPrior(keras.layers.Layer):
  """An RBM over all latent units, z1 the first half and z2 the second (Sec. 5).

  Biases and couplings start at zero (Appendix E notes). Training uses the
  KL of Sec. 5 (`objectives.rbm_kl`) with log Z replaced by the surrogate of
  Appendix E, -mean E(stop_gradient(z)) over persistent chains advanced by
  `num_gibbs_sweeps` block Gibbs sweeps per step, so that automatic
  differentiation yields grad log Z. The chains are a sublayer, so they are
  saved and restored with the model.
  """

  def __init__(self, group_sizes, num_chains=1000, num_gibbs_sweeps=40,
               seed=0, **kwargs):
    super().__init__(**kwargs)
    self.group_sizes = list(group_sizes)
    num_units = sum(self.group_sizes)
    if num_units % 2:
      raise ValueError(f'RBMPrior: the latent units ({num_units}) must split '
                       'into two equal halves; use an even number of units.')
    self.num_left = self.num_right = num_units // 2
    self.num_chains = num_chains
    self.num_gibbs_sweeps = num_gibbs_sweeps
    self.seed = seed
    self.linear_left = self.add_weight(shape=(self.num_left,),
                                       initializer='zeros', name='linear_left')
    self.linear_right = self.add_weight(
        shape=(self.num_right,), initializer='zeros', name='linear_right')
    self.weights_rbm = self.add_weight(
        shape=(self.num_left, self.num_right), initializer='zeros',
        name='weights')
    self.chains = PersistentChains(num_chains, num_units, seed=seed,
                                   name='persistent_chains')
    # The latest log Z (exact or AIS), refreshed by `refresh_log_normalizer`;
    # the zero-initialised RBM has log Z = (n1 + n2) log 2.
    self.log_z_estimate = self.add_weight(
        shape=(), initializer=keras.initializers.Constant(
            num_units * np.log(2.)), trainable=False, name='log_z_estimate')

  def rbm(self, num_gibbs_steps=None):
    """The prior as a `dvae_tf.distributions.RBM` reading the current weights."""
    return RBM(tf.convert_to_tensor(self.linear_left),
               tf.convert_to_tensor(self.linear_right),
               tf.convert_to_tensor(self.weights_rbm),
               num_gibbs_steps=num_gibbs_steps or self.num_gibbs_sweeps)

  def kl(self, posterior, smoothing, beta, seed=None, training=False,
         log_z=None):
    """KL of Sec. 5; in training, log Z is the PCD surrogate (Appendix E).

    Args:
      posterior: a `PosteriorSample`.
      smoothing: the `Smoothing` the posterior was sampled with; it must
        provide `posterior_logits` (not Concrete).
      beta: inverse temperature.
      seed: stateless seed for the chains' Gibbs sweeps.
      training: advance the persistent chains and use the surrogate.
      log_z: the value of log Z (default: `log_z_estimate`, the latest exact
        or AIS value). In training its gradient is the surrogate's.

    Returns:
      [N] KL values.
    """
    rbm = self.rbm()
    if log_z is None:
      log_z = tf.convert_to_tensor(self.log_z_estimate)
    if training:
      negatives = self.chains.advance(rbm, self.num_gibbs_sweeps, seed)
      surrogate = rbm.log_normalizer_surrogate(negatives)
      # The value of the latest log Z estimate, the gradient of log Z.
      log_z = log_z + surrogate - tf.stop_gradient(surrogate)
    nu_logits = [d.posterior_logits(s) for d, s in
                 zip(posterior.distributions, posterior.samples)]
    return objectives.rbm_kl(rbm, self.group_sizes, posterior.logits,
                             nu_logits, log_z)

  def log_prob(self, z_groups, log_z=None, training=False):
    """log p(z) = -E(z) - log Z for binary z (a list of groups).

    `log_z` defaults to `log_z_estimate`, the latest exact or AIS value.
    """
    del training
    if log_z is None:
      log_z = tf.convert_to_tensor(self.log_z_estimate)
    return -self.rbm().energy(tf.concat(z_groups, axis=-1)) - log_z

  def sample(self, num_samples, seed, num_gibbs_sweeps=None):
    """Block Gibbs samples of the RBM, split into the posterior's groups."""
    z = self.rbm().sample(num_samples, seed=seed,
                          num_gibbs_steps=num_gibbs_sweeps)
    return tf.split(z, self.group_sizes, axis=-1)

  def log_normalizer(self, num_chains=1024, num_betas=1000, seed=(0, 0)):
    """log Z: exact when the smaller side has at most 24 units, else AIS.

    Also stores the value in `log_z_estimate`.

    Args:
      num_chains, num_betas: AIS settings (the paper's evaluation: 1024 and
        1000).
      seed: AIS seed.

    Returns:
      A `LogNormalizer` (value, standard error, method).
    """
    rbm = self.rbm()
    if min(rbm.num_left, rbm.num_right) <= rbm_lib.MAX_EXACT_UNITS:
      result = LogNormalizer(float(rbm.log_normalizer()), 0., 'exact')
    else:
      value, stderr = tf.function(lambda: ais_log_normalizer(
          rbm, num_chains=num_chains, num_betas=num_betas, seed=seed))()
      result = LogNormalizer(float(value), float(stderr),
                             f'ais ({num_chains} chains, {num_betas} betas)')
    self.log_z_estimate.assign(result.value)
    return result

  def get_config(self):
    config = super().get_config()
    config.update(group_sizes=self.group_sizes, num_chains=self.num_chains,
                  num_gibbs_sweeps=self.num_gibbs_sweeps, seed=self.seed)
    return config


class NormalPrior(keras.layers.Layer):
  """p(z) = N(0, I) over continuous groups: Table 3's "all continuous" row.

  The posterior groups are factorial Normals (`latents.Normal`), so the KL is
  in closed form given the sampled earlier groups:
  sum_i KL(q(z_i | x, z_<i) || N(0, I)). It has no parameters.
  """

  def __init__(self, group_sizes, **kwargs):
    super().__init__(**kwargs)
    self.group_sizes = list(group_sizes)

  def _standard_normal(self, z):
    return tfd.Normal(tf.zeros([], z.dtype), tf.ones([], z.dtype))

  def kl(self, posterior, smoothing=None, beta=None, seed=None,
         training=False):
    """sum_i KL(q(z_i | x, z_<i) || N(0, I)) in closed form, [N]."""
    del smoothing, beta, seed, training
    return tf.add_n([
        tf.reduce_sum(tfd.kl_divergence(q, self._standard_normal(z)), -1)
        for q, z in zip(posterior.distributions, posterior.samples)])

  def log_prob(self, z_groups, log_z=None, training=False):
    """log N(z; 0, I) summed over all groups, [N]."""
    del log_z, training
    return tf.add_n([tf.reduce_sum(self._standard_normal(z).log_prob(z), -1)
                     for z in z_groups])

  def sample(self, num_samples, seed):
    """A list of [num_samples, units_i] standard Normal groups."""
    z = tf.random.stateless_normal([num_samples, sum(self.group_sizes)],
                                   seed=tfp.random.sanitize_seed(seed))
    return tf.split(z, self.group_sizes, axis=-1)

  def log_normalizer(self, **unused_kwargs):
    return LogNormalizer(0., 0., 'none (Normal prior)')

  def get_config(self):
    config = super().get_config()
    config.update(group_sizes=self.group_sizes)
    return config
