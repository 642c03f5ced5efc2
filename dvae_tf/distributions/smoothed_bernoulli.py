"""The smoothed Bernoulli q(zeta) = sum_z q(z) r(zeta|z): the mixture of Eq. 2.

A binary unit z ~ Bernoulli(q) is relaxed by a smoothing transformation r(zeta|z)
into a continuous variable zeta whose marginal is the two-component mixture

    q(zeta) = (1 - q) r(zeta|z=0) + q r(zeta|z=1).                   (Eq. 2)

All the overlapping smoothings of this package are mirror-symmetric,
r(zeta|z=1) = r(1 - zeta|z=0), so a family is defined by four functions of its
z=0 component alone (log density, CDF, survival function, inverse CDF) and its
mean. `SmoothedBernoulli` turns those into the mixture's `log_prob`, `cdf`,
`mean`, `posterior_logits` and reparameterized `sample`.

Sampling is ancestral (z, then zeta given z) with the implicit
reparameterization gradient of Figurnov et al. (2018), as in DVAE#:

    d zeta / d theta = -(d F(zeta; theta) / d theta) / q(zeta; theta),

where F is the mixture CDF. Families with a closed-form mixture inverse CDF
(Eq. 3 for the exponential mixture) override `_quantile` and sample through it.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tensorflow_probability.python.internal import dtype_util
from tensorflow_probability.python.internal import parameter_properties
from tensorflow_probability.python.internal import reparameterization
from tensorflow_probability.python.internal import tensor_util

from dvae_tf import philox

tfb = tfp.bijectors
tfd = tfp.distributions
assert_util = tf.debugging


def implicit_reparameterization(zeta, cdf_fn, prob_fn):
  """Attaches the implicit reparameterization gradient to a sample.

  Returns a tensor equal to `zeta` whose gradient with respect to the
  parameters that `cdf_fn` closes over is -(dF/dtheta) / f(zeta), i.e. the
  derivative of the sample along the level set F(zeta; theta) = rho
  (Figurnov et al. 2018, Eq. 5).

  Args:
    zeta: samples, any shape; their own gradient is ignored.
    cdf_fn: callable, zeta -> F(zeta; theta), differentiable in theta.
    prob_fn: callable, zeta -> f(zeta; theta), the density dF/dzeta.

  Returns:
    A tensor of the shape and value of `zeta`.
  """
  zeta = tf.stop_gradient(zeta)
  cdf = cdf_fn(zeta)
  density = tf.stop_gradient(prob_fn(zeta))
  tiny = np.finfo(dtype_util.as_numpy_dtype(zeta.dtype)).tiny
  # (cdf - stop_gradient(cdf)) is exactly zero, so the value is zeta itself.
  return zeta - (cdf - tf.stop_gradient(cdf)) / tf.maximum(density, tiny)


def _common_float_dtype(owner, **params):
  """The floating-point dtype shared by the given (non-None) parameters.

  Python numbers adopt the dtype of the others (float32 if all are numbers).

  Args:
    owner: class name for the error message.
    **params: the parameters by name; `None` values are skipped.

  Returns:
    A floating-point `tf.DType`.

  Raises:
    TypeError: the parameters have different dtypes, or an integer one.
  """
  given = {key: value for key, value in params.items() if value is not None}
  try:
    dtype = dtype_util.common_dtype(list(given.values()), tf.float32)
  except TypeError:
    dtype = None
  if dtype is None or not dtype_util.is_floating(dtype):
    names = ' and '.join(f'`{key}`' for key in given)
    received = ', '.join(
        f'{key}: {tf.as_dtype(value.dtype).name}' if hasattr(value, 'dtype')
        else f'{key}: Python {type(value).__name__}'
        for key, value in given.items())
    raise TypeError(f'{owner}: {names} must share one floating-point dtype '
                    f'(got {received}).')
  return dtype


class SmoothedBernoulli(tfd.distribution.AutoCompositeTensorDistribution):
  """Base class: a Bernoulli(q) unit smoothed by r(zeta|z), Eq. 2.

  Subclasses define the z=0 component r(zeta|z=0) through the hooks
  `_component_log_prob`, `_component_cdf`, `_component_survival`,
  `_component_quantile` and `_component_mean`, all taking `(x, beta)`; the
  z=1 component is its mirror image r(zeta|z=1) = r(1 - zeta|z=0).

  Parameters: `logits` (or `probs`) of q(z=1), and `beta`, the inverse
  temperature: as beta -> infinity the mixture tends to Bernoulli(q) on {0, 1}.
  """

  def __init__(self, beta, logits=None, probs=None, validate_args=False,
               allow_nan_stats=True, name=None):
    """Builds the mixture of Eq. 2.

    Args:
      beta: inverse temperature, a positive float `Tensor`.
      logits: logit of q(z=1), a float `Tensor`; pass this or `probs`.
      probs: q(z=1) in [0, 1], a float `Tensor`; pass this or `logits`.
      validate_args: check parameters (beta > 0, probs in [0, 1]) at run time.
      allow_nan_stats: as in `tfd.Distribution`.
      name: name scope; defaults to the class name.
    """
    parameters = dict(locals())
    name = name or type(self).__name__
    if (logits is None) == (probs is None):
      raise ValueError(
          f'{type(self).__name__}: pass exactly one of `logits` or `probs` '
          f'(got logits={logits!r}, probs={probs!r}).')
    if beta is None:
      raise ValueError(f'{type(self).__name__}: `beta` (the inverse '
                       'temperature, a positive number) is required.')
    with tf.name_scope(name) as name:
      dtype = _common_float_dtype(
          type(self).__name__, beta=beta, logits=logits, probs=probs)
      self._beta = tensor_util.convert_nonref_to_tensor(
          beta, dtype=dtype, name='beta')
      self._logits = tensor_util.convert_nonref_to_tensor(
          logits, dtype=dtype, name='logits')
      self._probs = tensor_util.convert_nonref_to_tensor(
          probs, dtype=dtype, name='probs')
      super().__init__(
          dtype=dtype,
          reparameterization_type=reparameterization.FULLY_REPARAMETERIZED,
          validate_args=validate_args,
          allow_nan_stats=allow_nan_stats,
          parameters=parameters,
          name=name)

  @classmethod
  def _parameter_properties(cls, dtype, num_classes=None):
    return dict(
        beta=parameter_properties.ParameterProperties(
            default_constraining_bijector_fn=(
                lambda: tfb.Softplus(low=dtype_util.eps(dtype)))),
        logits=parameter_properties.ParameterProperties(),
        probs=parameter_properties.ParameterProperties(
            default_constraining_bijector_fn=tfb.Sigmoid,
            is_preferred=False))

  @property
  def beta(self):
    """The inverse temperature beta."""
    return self._beta

  @property
  def logits(self):
    """Input argument `logits` (None when built from `probs`)."""
    return self._logits

  @property
  def probs(self):
    """Input argument `probs` (None when built from `logits`)."""
    return self._probs

  def logits_parameter(self, name=None):
    """The logit of q(z=1), from whichever of `logits`/`probs` was given."""
    with self._name_and_control_scope(name or 'logits_parameter'):
      return self._logits_parameter_no_checks()

  def _logits_parameter_no_checks(self):
    if self._logits is None:
      probs = tf.convert_to_tensor(self._probs)
      return tf.math.log(probs) - tf.math.log1p(-probs)
    return tensor_util.identity_as_tensor(self._logits)

  def probs_parameter(self, name=None):
    """q(z=1), from whichever of `logits`/`probs` was given."""
    with self._name_and_control_scope(name or 'probs_parameter'):
      if self._logits is None:
        return tensor_util.identity_as_tensor(self._probs)
      return tf.math.sigmoid(self._logits)

  def _event_shape(self):
    return tf.TensorShape([])

  def _event_shape_tensor(self):
    return tf.constant([], dtype=tf.int32)

  def _params(self):
    """(logits, beta) broadcast to the batch shape."""
    logits = self._logits_parameter_no_checks()
    beta = tf.convert_to_tensor(self._beta)
    shape = tf.broadcast_dynamic_shape(tf.shape(logits), tf.shape(beta))
    return tf.broadcast_to(logits, shape), tf.broadcast_to(beta, shape)

  # Mixture functions from the z=0 component (Eq. 2 with mirror symmetry).

  def _log_prob(self, zeta):
    """log q(zeta) = logsumexp(log(1-q) + log r(zeta|0), log q + log r(zeta|1))."""
    logits, beta = self._params()
    return tf.math.reduce_logsumexp(tf.stack([
        tf.math.log_sigmoid(-logits) + self._component_log_prob(zeta, beta),
        tf.math.log_sigmoid(logits) + self._component_log_prob(1. - zeta, beta),
    ], axis=0), axis=0)

  def _cdf(self, zeta):
    """F(zeta) = (1-q) R(zeta|0) + q (1 - R(1-zeta|0))."""
    logits, beta = self._params()
    return (tf.math.sigmoid(-logits) * self._component_cdf(zeta, beta) +
            tf.math.sigmoid(logits) * self._component_survival(1. - zeta, beta))

  def _mean(self):
    """E[zeta] = (1-q) m0 + q (1 - m0), with m0 the mean of r(zeta|0)."""
    logits, beta = self._params()
    mean0 = self._component_mean(beta)
    return mean0 + tf.math.sigmoid(logits) * (1. - 2. * mean0)

  def posterior_logits(self, zeta, name='posterior_logits'):
    """The logit of q(z=1 | zeta) by Bayes' rule (nu of Sec. 5).

    nu = sigmoid(logits + log r(zeta|z=1) - log r(zeta|z=0)).

    Args:
      zeta: samples, shape broadcastable with the batch shape.
      name: name scope.

    Returns:
      A tensor of logits, the broadcast shape of `zeta` and the batch.
    """
    with self._name_and_control_scope(name):
      zeta = tf.convert_to_tensor(zeta, dtype=self.dtype)
      logits, beta = self._params()
      return logits + self._log_smoothing_ratio(zeta, beta)

  def _log_smoothing_ratio(self, zeta, beta):
    """log r(zeta|z=1) - log r(zeta|z=0); subclasses with a closed form override."""
    return (self._component_log_prob(1. - zeta, beta) -
            self._component_log_prob(zeta, beta))

  def _sample_n(self, n, seed=None):
    """Ancestral sample of (z, zeta), zeta given its implicit gradient."""
    logits, beta = self._params()
    shape = tf.concat([[n], tf.shape(logits)], axis=0)
    z_seed, zeta_seed = philox.split(seed, n=2)
    numpy_dtype = dtype_util.as_numpy_dtype(self.dtype)
    z = philox.uniform(shape, z_seed, self.dtype) < tf.math.sigmoid(logits)
    u = philox.uniform(shape, zeta_seed, self.dtype,
                       minval=np.finfo(numpy_dtype).tiny, maxval=1.)
    zeta0 = self._component_quantile(u, beta)
    zeta = self._clip_to_support(tf.where(z, 1. - zeta0, zeta0))
    return implicit_reparameterization(
        zeta, self._cdf, lambda x: tf.exp(self._log_prob(x)))

  def _clip_to_support(self, zeta):
    """Keeps samples where log_prob is finite in this dtype (identity by default)."""
    return zeta

  # The z=0 component; subclasses implement these.

  def _component_log_prob(self, x, beta):
    raise NotImplementedError

  def _component_cdf(self, x, beta):
    raise NotImplementedError

  def _component_survival(self, x, beta):
    return 1. - self._component_cdf(x, beta)

  def _component_quantile(self, u, beta):
    raise NotImplementedError

  def _component_mean(self, beta):
    raise NotImplementedError

  def _parameter_control_dependencies(self, is_init):
    if not self.validate_args:
      return []
    assertions = []
    if is_init != tensor_util.is_ref(self._beta):
      assertions.append(assert_util.assert_positive(
          self._beta, message=f'{type(self).__name__}: `beta` must be positive.'))
    if self._probs is not None and is_init != tensor_util.is_ref(self._probs):
      probs = tf.convert_to_tensor(self._probs)
      assertions.append(assert_util.assert_non_negative(
          probs, message=f'{type(self).__name__}: `probs` must be >= 0.'))
      assertions.append(assert_util.assert_less_equal(
          probs, tf.ones([], probs.dtype),
          message=f'{type(self).__name__}: `probs` must be <= 1.'))
    return assertions
