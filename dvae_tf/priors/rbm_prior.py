"""The undirected prior of Sec. 5: an RBM over all global latent units."""

import keras
import numpy as np
import tensorflow as tf

from dvae_tf import log_z_gradient
from dvae_tf import objectives
from dvae_tf import rolfe_gradient
from dvae_tf.distributions import RBM, PersistentChains, ais_log_normalizer
from dvae_tf.distributions import rbm as rbm_lib
from dvae_tf.priors import base


@tf.function(autograph=False)
def _ais(linear_left, linear_right, weights, num_chains, num_betas, seed):
  """AIS of log Z (`ais_log_normalizer`) as one graph, traced once per setting."""
  return ais_log_normalizer(RBM(linear_left, linear_right, weights),
                            num_chains=num_chains, num_betas=num_betas,
                            seed=seed)


class RBMPrior(base.Prior):
  """An RBM over all latent units, z1 the first half and z2 the second (Sec. 5).

  Biases and couplings start at zero (Appendix E notes). Training uses the
  KL of Sec. 5 (`objectives.rbm_kl`) with log Z given the gradient of the
  persistent-chain surrogate (Appendix E, `dvae_tf.log_z_gradient`): the
  chains are advanced by `num_gibbs_sweeps` block Gibbs sweeps per step and
  are a sublayer, so they are saved and restored with the model. The value of
  log Z is `log_z_estimate`, the latest exact or AIS value, which
  `refresh_log_normalizer` recomputes.
  """

  needs_posterior_logits = True

  def __init__(self, group_sizes, smoothing=None,
               num_chains=base.RELEASED_NUM_CHAINS,
               num_gibbs_sweeps=base.RELEASED_NUM_GIBBS_SWEEPS, seed=0,
               **kwargs):
    super().__init__(group_sizes, smoothing=smoothing, **kwargs)
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
    # The zero-initialised RBM has log Z = (n1 + n2) log 2.
    self.log_z_estimate = self.add_weight(
        shape=(), initializer=keras.initializers.Constant(
            num_units * np.log(2.)), trainable=False, name='log_z_estimate')

  @classmethod
  def from_spec(cls, spec):
    return cls(spec.group_sizes, smoothing=spec.smoothing,
               num_chains=spec.num_chains,
               num_gibbs_sweeps=spec.num_gibbs_sweeps, name='prior')

  def rbm(self):
    """The prior as a `dvae_tf.distributions.RBM` reading the current weights."""
    return RBM(tf.convert_to_tensor(self.linear_left),
               tf.convert_to_tensor(self.linear_right),
               tf.convert_to_tensor(self.weights_rbm),
               num_gibbs_sweeps=self.num_gibbs_sweeps)

  @property
  def log_z(self):
    return float(self.log_z_estimate.numpy())

  @property
  def sample_gibbs_sweeps(self):
    return self.num_gibbs_sweeps

  def gather_replica_state(self):
    """Every replica's persistent chains into every copy (before a save)."""
    self.chains.gather_replicas()

  def decayed_weights(self):
    """W, decayed as in the released code (Appendix F notes)."""
    return [self.weights_rbm]

  def _kl(self, posterior, beta, seed, training):
    """KL of Sec. 5; in training, log Z has the PCD gradient (Appendix E).

    Under a smoothing with a deterministic q(z | x, zeta) (spike_exp), a
    zero-valued surrogate adds the gradient that the reparameterization
    misses (Rolfe 2016, `dvae_tf.rolfe_gradient`).
    """
    del beta
    rbm = self.rbm()
    log_z = tf.convert_to_tensor(self.log_z_estimate)
    if training:
      log_z = log_z_gradient.log_z_with_pcd_gradient(
          log_z, rbm, self.chains, self.num_gibbs_sweeps, seed)
    nu_logits = [d.posterior_logits(s) for d, s in
                 zip(posterior.distributions, posterior.samples)]
    kl = objectives.rbm_kl(rbm, self.group_sizes, posterior.params,
                           nu_logits, log_z)
    if self.smoothing.deterministic_posterior:
      kl += rolfe_gradient.boundary_surrogate(rbm, self.group_sizes,
                                              posterior.params, nu_logits)
    return kl

  def _log_prob(self, z_groups, training):
    """log p(z) = -E(z) - log Z for binary z, log Z = `log_z_estimate`."""
    del training
    return (-self.rbm().energy(tf.concat(z_groups, axis=-1)) -
            tf.convert_to_tensor(self.log_z_estimate))

  def _sample(self, num_samples, seed):
    """Block Gibbs samples of the RBM, split into the posterior's groups."""
    z = self.rbm().sample(num_samples, seed=seed)
    return tf.split(z, self.group_sizes, axis=-1)

  def _refresh_log_normalizer(self, ais_chains, ais_betas, seed):
    """Exact when the smaller side has at most 24 units, else AIS."""
    rbm = self.rbm()
    if min(rbm.num_left, rbm.num_right) <= rbm_lib.MAX_EXACT_UNITS:
      result = base.LogNormalizer(float(rbm.log_normalizer()), 0., 'exact')
    else:
      value, stderr = _ais(rbm.linear_left, rbm.linear_right, rbm.weights,
                           int(ais_chains), int(ais_betas),
                           tf.convert_to_tensor(seed, tf.int32))
      result = base.LogNormalizer(
          float(value), float(stderr),
          f'ais ({ais_chains} chains, {ais_betas} betas)')
    self.log_z_estimate.assign(result.value)
    return result

  def get_config(self):
    config = super().get_config()
    config.update(num_chains=self.num_chains,
                  num_gibbs_sweeps=self.num_gibbs_sweeps, seed=self.seed)
    return config
