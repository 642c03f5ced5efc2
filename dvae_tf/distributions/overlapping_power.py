"""The mixture of overlapping power-function smoothings (DVAE#, Vahdat et al. 2018)."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tensorflow_probability.python.internal import dtype_util

from dvae_tf.distributions import smoothed_bernoulli

tfb = tfp.bijectors


class OverlappingPower(smoothed_bernoulli.SmoothedBernoulli):
  """Bernoulli(q) smoothed by two mirrored power-function densities on [0, 1].

  The generalization of Sec. 3 used by the follow-up DVAE# work:

      r(zeta|z=0) = (1/beta) zeta^(1/beta - 1),   R(zeta|z=0) = zeta^(1/beta),
      r(zeta|z=1) = r(1 - zeta|z=0),

  on [0, 1], mixed as in Eq. 2. The mixture CDF has no closed-form inverse, so
  `sample` draws z ~ Bernoulli(q), then zeta0 = u^beta (u ~ U(0, 1)), mirrors it
  for z=1, and attaches the implicit reparameterization gradient of the
  mixture CDF (Figurnov et al. 2018); `quantile` is not implemented. The
  posterior logit is logits + (1/beta - 1) (log(1 - zeta) - log zeta).

  Support: [0, 1]; the density is unbounded at both ends. Samples are kept in
  [tiny, 1 - eps] of the dtype (float32: [1.2e-38, 1 - 6e-8]) so that
  `log_prob` and `posterior_logits` stay finite; the mass moved onto those two
  points is the mass the dtype cannot represent, and the CDF is exact at them.

  ```python
  q = OverlappingPower(beta=30., logits=tf.zeros([100, 200]))
  zeta = q.sample(seed=(0, 1))
  nu = tf.sigmoid(q.posterior_logits(zeta))
  ```
  """

  def _component_log_prob(self, x, beta):
    # xlogy: at beta = 1 the density is uniform, also at x = 0. The exponent
    # is written (1 - beta) / beta, exactly 0 at beta = 1: graph-mode kernels
    # may compute 1 / beta as an approximate reciprocal, and 1 / beta - 1 =
    # -6e-8 would make log r(0|0) +inf there instead of 0.
    log_density = tf.math.xlogy((1. - beta) / beta, x) - tf.math.log(beta)
    return tf.where((x >= 0.) & (x <= 1.), log_density,
                    tf.constant(-np.inf, x.dtype))

  def _component_cdf(self, x, beta):
    return tf.exp(tf.math.log(tf.clip_by_value(x, 0., 1.)) / beta)

  def _component_survival(self, x, beta):
    return -tf.math.expm1(tf.math.log(tf.clip_by_value(x, 0., 1.)) / beta)

  def _component_quantile(self, u, beta):
    return tf.exp(beta * tf.math.log(u))

  def _component_mean(self, beta):
    return 1. / (1. + beta)

  def _clip_to_support(self, zeta):
    finfo = np.finfo(dtype_util.as_numpy_dtype(zeta.dtype))
    return tf.clip_by_value(zeta, finfo.tiny, 1. - finfo.epsneg)

  def _default_event_space_bijector(self):
    return tfb.Sigmoid(validate_args=self.validate_args)
