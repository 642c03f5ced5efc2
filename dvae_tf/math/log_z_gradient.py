"""Appendix E: the gradient of an RBM prior's log Z from persistent chains.

The KL of Sec. 5 contains log Z, whose gradient is

    grad log Z = E_{p(z)}[-grad E(z)],

an expectation under the prior itself. Training estimates it with persistent
contrastive divergence (Tieleman 2008): the chains of `PersistentChains` are
advanced by a few block Gibbs sweeps per step, and their states z_1..z_S give

    surrogate = -(1/S) sum_s E(stop_gradient(z_s)),

whose gradient is a Monte Carlo estimate of grad log Z. Its value is not
log Z, so the training bound uses `log_z_with_pcd_gradient`: the value of the
latest exact or AIS estimate, the gradient of the surrogate.
"""

import tensorflow as tf


def pcd_surrogate(rbm, negative_samples):
  """-mean_s E(stop_gradient(z_s)): its gradient estimates grad log Z.

  Args:
    rbm: a `dvae_tf.distributions.RBM`.
    negative_samples: z [S, ..., n1 + n2], samples of the model (the
      persistent chains).

  Returns:
    A tensor of the RBM's batch shape.
  """
  z = tf.stop_gradient(tf.convert_to_tensor(negative_samples, rbm.dtype))
  return tf.reduce_mean(-rbm.energy(z), axis=0)


def log_z_with_pcd_gradient(log_z, rbm, chains, num_gibbs_sweeps, seed):
  """log Z with the value `log_z` and the gradient of the PCD surrogate.

  Advances `chains` (a `PersistentChains`) by `num_gibbs_sweeps` block Gibbs
  sweeps of `rbm` and returns log_z + s - stop_gradient(s), s the
  `pcd_surrogate` of the new states.

  Args:
    log_z: scalar, the latest exact or AIS value of log Z (no gradient).
    rbm: the prior, a `dvae_tf.distributions.RBM` reading the trained weights.
    chains: the prior's `PersistentChains`.
    num_gibbs_sweeps: sweeps per call (per training step).
    seed: stateless seed of this step's sweeps.

  Returns:
    A scalar tensor.
  """
  negatives = chains.advance(rbm, num_gibbs_sweeps, seed)
  surrogate = pcd_surrogate(rbm, negatives)
  return tf.stop_gradient(log_z) + surrogate - tf.stop_gradient(surrogate)
