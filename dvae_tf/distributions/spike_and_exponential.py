"""Rolfe's (2016) spike-and-exponential smoothing, the paper's baseline (Sec. 2)."""

import numpy as np
import tensorflow as tf

from tensorflow_probability.python.internal import dtype_util

from dvae_tf import philox
from dvae_tf.distributions import smoothed_bernoulli


class SpikeAndExponential(smoothed_bernoulli.SmoothedBernoulli):
  """Bernoulli(q) smoothed by a spike at 0 and an exponential on (0, 1].

  The smoothing of the original DVAE (Rolfe 2016), recalled in Sec. 2:

      r(zeta|z=0) = delta(zeta),
      r(zeta|z=1) = beta exp(beta (zeta - 1)) / (1 - exp(-beta)),  0 < zeta <= 1,

  mixed as in Eq. 2. The mixture has an atom of mass 1-q at zeta = 0 and a
  density q r(zeta|1) on (0, 1].

  Mixed measure: `log_prob` is taken with respect to the base measure
  delta_0 + Lebesgue on (0, 1]. So `log_prob(0.)` is log(1-q), the log *mass*
  of the spike, and for 0 < zeta <= 1 it is log q + log r(zeta|1), a log
  *density*; outside [0, 1] it is -inf. Integrating `prob` over (0, 1] gives q,
  and adding `prob(0.)` gives 1. The CDF jumps by 1-q at zero.

  Sampling inverts the CDF: zeta = 0 for rho <= 1-q, else
  zeta = 1 + log(exp(-beta) + u (1 - exp(-beta))) / beta with
  u = (rho - (1-q)) / q. That map is continuous in q (it reaches 0 at
  rho = 1-q from both sides), so it is a valid reparameterization.
  `posterior_logits` is +inf for zeta > 0 and -inf at zeta = 0:
  q(z=1|zeta) is deterministic, the property Sec. 5 contrasts with the
  overlapping smoothings.

  ```python
  q = SpikeAndExponential(beta=5., logits=tf.zeros([100, 200]))
  zeta = q.sample(seed=(0, 1))     # about half exactly 0
  q.log_prob(0.)                   # log(1 - q): the spike's mass
  ```
  """

  def _log_prob(self, zeta):
    logits, beta = self._params()
    log_slab = (tf.math.log_sigmoid(logits) + tf.math.log(beta) +
                beta * (zeta - 1.) - tf.math.log(-tf.math.expm1(-beta)))
    neg_inf = tf.constant(-np.inf, self.dtype)
    return tf.where(
        tf.equal(zeta, 0.), tf.math.log_sigmoid(-logits),
        tf.where((zeta > 0.) & (zeta <= 1.), log_slab, neg_inf))

  def _cdf(self, zeta):
    """F(zeta) = (1-q) + q (e^{beta(zeta-1)} - e^{-beta}) / (1 - e^{-beta}), zeta >= 0."""
    logits, beta = self._params()
    x = tf.clip_by_value(zeta, 0., 1.)
    slab_cdf = tf.exp(beta * (x - 1.)) * tf.math.expm1(-beta * x) / tf.math.expm1(
        -beta)
    cdf = tf.math.sigmoid(-logits) + tf.math.sigmoid(logits) * slab_cdf
    return tf.where(zeta < 0., tf.zeros_like(cdf), cdf)

  def _mean(self):
    logits, beta = self._params()
    slab_mean = 1. - (1. / beta - 1. / tf.math.expm1(beta))
    return tf.math.sigmoid(logits) * slab_mean

  def _quantile(self, rho):
    """zeta = 1 + logaddexp(log(rho - (1-q)), log(1-rho) - beta) - log q) / beta.

    This is 1 + log(exp(-beta) + u (1 - exp(-beta))) / beta, u = (rho-(1-q))/q,
    with 1 - u = (1 - rho)/q, written in logs so exp(-beta) may underflow.
    """
    logits, beta = self._params()
    tiny = np.finfo(dtype_util.as_numpy_dtype(self.dtype)).tiny
    excess = rho - tf.math.sigmoid(-logits)
    in_slab = excess > 0.
    safe_excess = tf.where(in_slab, excess, tf.ones_like(excess))
    log_tail = tf.math.log(tf.maximum(1. - rho, tiny)) - beta
    zeta_slab = 1. + (tf.math.reduce_logsumexp(
        tf.stack([tf.math.log(safe_excess), log_tail + tf.zeros_like(
            safe_excess)], axis=0), axis=0) - tf.math.log_sigmoid(logits)) / beta
    return tf.where(in_slab, tf.clip_by_value(zeta_slab, 0., 1.),
                    tf.zeros_like(zeta_slab))

  def _sample_n(self, n, seed=None):
    logits, _ = self._params()
    shape = tf.concat([[n], tf.shape(logits)], axis=0)
    rho = philox.uniform(shape, seed, self.dtype)
    return self._quantile(rho)

  def posterior_logits(self, zeta, name='posterior_logits'):
    """+inf where zeta > 0 (z was 1), -inf at zeta = 0 (z was 0)."""
    with self._name_and_control_scope(name):
      zeta = tf.convert_to_tensor(zeta, dtype=self.dtype)
      logits, _ = self._params()
      inf = tf.constant(np.inf, self.dtype)
      return tf.where(zeta > 0., inf, -inf) + tf.zeros_like(logits)
