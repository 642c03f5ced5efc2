"""The mixture of overlapping exponentials (Sec. 3, Eqs. 2-3, Appendix A)."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tensorflow_probability.python.internal import dtype_util

from dvae_tf import philox
from dvae_tf.distributions import smoothed_bernoulli

tfb = tfp.bijectors


def _in_unit_interval(x):
  return (x >= 0.) & (x <= 1.)


# Compiled with XLA so that its dozen elementwise ops fuse into one kernel:
# sampling then costs what Concrete's does (see bin/benchmark.py).
@tf.function(jit_compile=True, autograph=False)
def _stable_quantile(logits, beta, rho):
  """Eq. 3 in the cancellation-free form derived in `_quantile`."""
  numpy_dtype = dtype_util.as_numpy_dtype(rho.dtype)
  tiny = np.finfo(numpy_dtype).tiny
  q = tf.math.sigmoid(logits)
  one_minus_q = tf.math.sigmoid(-logits)
  exp_neg_beta = tf.exp(-beta)
  b = rho - one_minus_q + exp_neg_beta * (q - rho)
  # B^2 + 4(1-q)D; the floor keeps sqrt's gradient finite at 0.
  discriminant = tf.maximum(tf.square(b) + 4. * one_minus_q * q * exp_neg_beta,
                            tiny)
  log_t = tf.math.log(tf.maximum(tf.sqrt(discriminant) + tf.abs(b), tiny))
  c = np.log(2.).astype(numpy_dtype) - tf.math.softplus(logits) - log_t
  zeta = tf.where(b <= 0., c, beta - c - logits) / beta
  return tf.clip_by_value(zeta, 0., 1.)


class OverlappingExponential(smoothed_bernoulli.SmoothedBernoulli):
  """Bernoulli(q) smoothed by two overlapping exponentials on [0, 1].

  The smoothing transformation of Sec. 3,

      r(zeta|z=0) = beta exp(-beta zeta) / (1 - exp(-beta)),
      r(zeta|z=1) = beta exp(beta (zeta - 1)) / (1 - exp(-beta)),

  for zeta in [0, 1], gives the mixture q(zeta) = (1-q) r(zeta|0) + q r(zeta|1)
  (Eq. 2). As beta -> infinity it tends to (1-q) delta(zeta) + q delta(zeta-1).

  Sampling is reparameterized through the closed-form inverse CDF of Eq. 3,
  evaluated in a stable form (see `_quantile`), and the posterior logit is
  logits + beta (2 zeta - 1).

  Support: [0, 1]. Parameters: `logits` or `probs` of q(z=1); `beta` > 0.

  ```python
  q = OverlappingExponential(beta=10., logits=tf.zeros([100, 200]))
  zeta = q.sample(seed=(0, 1))          # [100, 200], reparameterized in logits
  nu = tf.sigmoid(q.posterior_logits(zeta))   # q(z=1 | zeta), Sec. 5
  ```
  """

  # r(x|z=0) = beta e^{-beta x} / (1 - e^{-beta}), computed with expm1.

  def _component_log_prob(self, x, beta):
    log_density = tf.math.log(beta) - beta * x - tf.math.log(-tf.math.expm1(-beta))
    return tf.where(_in_unit_interval(x), log_density,
                    tf.constant(-np.inf, x.dtype))

  def _component_cdf(self, x, beta):
    x = tf.clip_by_value(x, 0., 1.)
    return tf.math.expm1(-beta * x) / tf.math.expm1(-beta)

  def _component_survival(self, x, beta):
    # 1 - R(x|0) = e^{-beta x} (1 - e^{-beta (1-x)}) / (1 - e^{-beta}).
    x = tf.clip_by_value(x, 0., 1.)
    return tf.exp(-beta * x) * tf.math.expm1(-beta * (1. - x)) / tf.math.expm1(
        -beta)

  def _component_quantile(self, u, beta):
    return -tf.math.log1p(u * tf.math.expm1(-beta)) / beta

  def _component_mean(self, beta):
    return 1. / beta - 1. / tf.math.expm1(beta)

  def _log_smoothing_ratio(self, zeta, beta):
    """log r(zeta|1) - log r(zeta|0) = beta (2 zeta - 1) (Appendix A)."""
    return beta * (2. * zeta - 1.)

  def _quantile(self, rho):
    """Inverse CDF of the mixture, Eq. 3, in a form stable in float32.

    With m = exp(-beta zeta), F(zeta) = rho becomes the quadratic
    (1-q) m^2 + B m - D = 0 (Eq. 3 multiplied by 1-q), where

        B = rho - (1-q) + exp(-beta) (q - rho),   D = q exp(-beta).

    Eq. 3 takes the positive root as (-B + S) / (2(1-q)), S = sqrt(B^2 +
    4(1-q)D), which cancels catastrophically when B > 0 (rho in the z=1
    component) and divides by a vanishing 1-q as q -> 1. With T = S + |B|
    (a sum of non-negative terms, so free of cancellation) the root is
    m = T / (2(1-q)) for B <= 0 and the equal m = 2D / T for B > 0. Taking
    logs before exp(-beta) can underflow, and with c = log 2 + log(1-q) -
    log T:

        B <= 0:  zeta = c / beta,
        B > 0:   zeta = 1 - (c + logits) / beta   (as log q = log(1-q) + logits).

    Args:
      rho: probabilities in [0, 1], broadcastable with the batch shape.

    Returns:
      zeta in [0, 1] with F(zeta) = rho, differentiable in logits and beta.
    """
    logits = self._logits_parameter_no_checks()
    beta = tf.convert_to_tensor(self._beta)
    return _stable_quantile(logits, beta, rho)

  def _sample_n(self, n, seed=None):
    """zeta = F^{-1}(rho), rho ~ U(0, 1): the reparameterization of Eq. 3."""
    logits, _ = self._params()
    shape = tf.concat([[n], tf.shape(logits)], axis=0)
    rho = philox.uniform(shape, seed, self.dtype)
    return self._quantile(rho)

  def _default_event_space_bijector(self):
    return tfb.Sigmoid(validate_args=self.validate_args)
