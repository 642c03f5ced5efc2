"""The mixture of overlapping exponentials (Sec. 3, Eqs. 2-3, Appendix A)."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tensorflow_probability.python.internal import dtype_util
from tensorflow_probability.python.internal import samplers

from dvae_tf.distributions import smoothed_bernoulli

tfb = tfp.bijectors


def _in_unit_interval(x):
  return (x >= 0.) & (x <= 1.)


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

    Eq. 3 takes the positive root as (-B + sqrt(B^2 + 4(1-q)D)) / (2(1-q)),
    which cancels catastrophically when B > 0 (rho in the z=1 component) and
    divides by a vanishing 1-q as q -> 1. We use that form only for B <= 0,
    and the algebraically equal m = 2D / (B + sqrt(B^2 + 4(1-q)D)) for B > 0,
    taking logs before exp(-beta) can underflow:

        B <= 0:  zeta = -[log(sqrt(.) - B) - log 2 - log(1-q)] / beta,
        B > 0:   zeta = 1 - [log 2 + log q - log(B + sqrt(.))] / beta.

    Args:
      rho: probabilities in [0, 1], broadcastable with the batch shape.

    Returns:
      zeta in [0, 1] with F(zeta) = rho, differentiable in logits and beta.
    """
    logits, beta = self._params()
    numpy_dtype = dtype_util.as_numpy_dtype(self.dtype)
    tiny = np.finfo(numpy_dtype).tiny
    log_q = tf.math.log_sigmoid(logits)
    log_one_minus_q = tf.math.log_sigmoid(-logits)
    q = tf.math.sigmoid(logits)
    one_minus_q = tf.math.sigmoid(-logits)
    exp_neg_beta = tf.exp(-beta)
    b = rho - one_minus_q + exp_neg_beta * (q - rho)
    four_ad = 4. * one_minus_q * q * exp_neg_beta
    # Each branch gets inputs that are safe for it, so that the branch not
    # taken by tf.where produces no inf/NaN that would poison gradients.
    b_neg = tf.where(b <= 0., b, -tf.ones_like(b))
    b_pos = tf.where(b > 0., b, tf.ones_like(b))
    root_neg = tf.sqrt(tf.maximum(tf.square(b_neg) + four_ad, tiny))
    root_pos = tf.sqrt(tf.maximum(tf.square(b_pos) + four_ad, tiny))
    zeta_neg = -(tf.math.log(tf.maximum(root_neg - b_neg, tiny)) -
                 np.log(2.).astype(numpy_dtype) - log_one_minus_q) / beta
    zeta_pos = 1. - (np.log(2.).astype(numpy_dtype) + log_q -
                     tf.math.log(b_pos + root_pos)) / beta
    return tf.clip_by_value(tf.where(b <= 0., zeta_neg, zeta_pos), 0., 1.)

  def _sample_n(self, n, seed=None):
    """zeta = F^{-1}(rho), rho ~ U(0, 1): the reparameterization of Eq. 3."""
    logits, _ = self._params()
    shape = tf.concat([[n], tf.shape(logits)], axis=0)
    rho = samplers.uniform(shape, seed=seed, dtype=self.dtype)
    return self._quantile(rho)

  def _default_event_space_bijector(self):
    return tfb.Sigmoid(validate_args=self.validate_args)
