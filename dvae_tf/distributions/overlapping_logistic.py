"""The mixture of overlapping logistic smoothings (Appendix B, reconstructed)."""

import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf.distributions import smoothed_bernoulli

tfb = tfp.bijectors


class OverlappingLogistic(smoothed_bernoulli.SmoothedBernoulli):
  """Bernoulli(q) smoothed by two logistic densities centred on 0 and 1.

  The paper's Appendix B ("analogous results for logistic smoothing
  distributions") is not available. This class implements the assumed,
  self-consistent version: logistic densities centred on the two binary values
  with scale s = 1/beta, on the whole real line,

      r(zeta|z=k) = Logistic(zeta; loc=k, scale=1/beta),   k in {0, 1},

  mixed as in Eq. 2; note r(zeta|z=1) = r(1 - zeta|z=0). As beta -> infinity
  the mixture tends to Bernoulli(q). The log ratio of the components is

      log r(zeta|1) - log r(zeta|0)
          = beta + 2 [softplus(-beta zeta) - softplus(beta (1 - zeta))],

  bounded in (-beta, beta), so q(z=1|zeta) never saturates completely.
  The mixture CDF (1-q) sigmoid(beta zeta) + q sigmoid(beta (zeta - 1)) has
  no closed-form inverse: `sample` is ancestral with the implicit
  reparameterization gradient, and `quantile` is not implemented.

  Support: the real line. Parameters: `logits` or `probs`; `beta` > 0.

  ```python
  q = OverlappingLogistic(beta=10., logits=tf.zeros([100, 200]))
  zeta = q.sample(seed=(0, 1))
  nu = tf.sigmoid(q.posterior_logits(zeta))
  ```
  """

  def _component_log_prob(self, x, beta):
    # Logistic(x; 0, 1/beta): log beta - beta x - 2 softplus(-beta x).
    return tf.math.log(beta) - beta * x - 2. * tf.math.softplus(-beta * x)

  def _component_cdf(self, x, beta):
    return tf.math.sigmoid(beta * x)

  def _component_survival(self, x, beta):
    return tf.math.sigmoid(-beta * x)

  def _component_quantile(self, u, beta):
    return (tf.math.log(u) - tf.math.log1p(-u)) / beta

  def _component_mean(self, beta):
    return tf.zeros_like(beta)

  def _log_smoothing_ratio(self, zeta, beta):
    return beta + 2. * (tf.math.softplus(-beta * zeta) -
                        tf.math.softplus(beta * (1. - zeta)))

  def _default_event_space_bijector(self):
    return tfb.Identity(validate_args=self.validate_args)
