"""Annealed importance sampling (Neal 2001) of an RBM's log partition function.

For RBMs too large to enumerate (`RBM.log_normalizer` needs the smaller side
to have at most 24 units), log Z is estimated as in Salakhutdinov & Murray
(2008). The right units are summed out analytically, leaving the marginal
over the left units at inverse temperature t in [0, 1],

    log f_t(z1) = t a1 . z1 + sum_j softplus(t (a2 + W^T z1)_j),

which at t = 0 is uniform with normalizer Z_0 = 2^(n1 + n2) and at t = 1 is
the RBM's marginal with normalizer Z. Each chain starts from the uniform
distribution, and for t_0 = 0 < t_1 < ... < t_K = 1 accumulates the log weight

    log w = sum_k [log f_{t_k}(z1^(k-1)) - log f_{t_(k-1)}(z1^(k-1))],

moving z1^(k) by one block Gibbs sweep of the RBM with parameters scaled by
t_k (which leaves f_{t_k} invariant). Then E[w] = Z / Z_0, so

    log Z = log Z_0 + log mean_c exp(log w_c),

computed with a log-sum-exp. The standard error of log Z comes from the delta
method, stderr(mean w) / mean w, evaluated on weights rescaled by their
maximum so nothing overflows. This estimator is unbiased in Z, hence biased
low (stochastically) in log Z.
"""

import numpy as np
import tensorflow as tf

from tensorflow_probability.python.internal import samplers

from dvae_tf import sampling
from dvae_tf.distributions import rbm as rbm_lib

# The paper's evaluation setting (Sec. 7): 1024 chains, 1000 temperatures.
PAPER_AIS_CHAINS = 1024
PAPER_AIS_BETAS = 1000


def ais_log_normalizer(rbm, num_chains=PAPER_AIS_CHAINS,
                       num_betas=PAPER_AIS_BETAS, seed=None,
                       name='ais_log_normalizer'):
  """Estimates log Z of `rbm` and its standard error by AIS.

  Args:
    rbm: a `dvae_tf.distributions.RBM` (batch dimensions allowed).
    num_chains: independent annealing runs.
    num_betas: number of inverse temperatures, linearly spaced in [0, 1].
    seed: stateless seed.
    name: name scope.

  Returns:
    (log_z, stderr): tensors of the RBM's batch shape, in nats.

  Raises:
    ValueError: for fewer than 2 chains or 2 temperatures.
  """
  if not isinstance(rbm, rbm_lib.RBM):
    raise TypeError(f'ais_log_normalizer: expected an RBM, got '
                    f'{type(rbm).__name__}.')
  if int(num_chains) < 2 or int(num_betas) < 2:
    raise ValueError('ais_log_normalizer: need num_chains >= 2 (for a '
                     f'standard error) and num_betas >= 2; got {num_chains} '
                     f'and {num_betas}.')
  with tf.name_scope(name):
    dtype = rbm.dtype
    seed = samplers.sanitize_seed(seed, salt='ais_log_normalizer')
    a1 = tf.convert_to_tensor(rbm.linear_left)
    betas = tf.cast(tf.linspace(0., 1., num_betas), dtype)

    def log_f(t, z1):
      return (t * tf.reduce_sum(z1 * a1, axis=-1) + tf.reduce_sum(
          tf.math.softplus(t * rbm.right_conditional_logits(z1)), axis=-1))

    shape = tf.concat([[num_chains], rbm.batch_shape_tensor(),
                       [rbm.num_left]], 0)
    init_seed, loop_seed = samplers.split_seed(seed, n=2)
    z1 = tf.cast(samplers.uniform(shape, seed=init_seed, dtype=dtype) < 0.5,
                 dtype)
    log_w = tf.zeros(shape[:-1], dtype)

    def body(k, z1, log_w):
      t_prev, t = betas[k - 1], betas[k]
      log_w += log_f(t, z1) - log_f(t_prev, z1)
      right_seed, left_seed = samplers.split_seed(
          tf.random.experimental.stateless_fold_in(loop_seed, k), n=2)
      z2 = sampling.bernoulli_sample(
          t * rbm.right_conditional_logits(z1), right_seed)
      z1 = sampling.bernoulli_sample(
          t * rbm.left_conditional_logits(z2), left_seed)
      return k + 1, z1, log_w

    _, _, log_w = tf.while_loop(lambda k, *_: k < num_betas, body,
                                (tf.constant(1), z1, log_w))
    n = tf.cast(num_chains, dtype)
    log_z0 = (rbm.num_left + rbm.num_right) * np.log(2.)
    log_mean_w = tf.reduce_logsumexp(log_w, axis=0) - tf.math.log(n)
    # Weights relative to their mean: mean 1, so stderr(log Z) = std / sqrt(n).
    ratio = tf.exp(log_w - log_mean_w)
    std = tf.math.reduce_std(ratio, axis=0) * tf.sqrt(n / (n - 1.))
    return log_z0 + log_mean_w, std / tf.sqrt(n)
