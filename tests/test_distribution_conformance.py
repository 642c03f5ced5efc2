"""The smoothing distributions behave like built-in TFP distributions.

The math is tested in test_smoothing.py. Here every family is checked against
the `tfd.Distribution` contract: batch shapes and broadcasting, stateless
seeds, composition (`tfd.Independent`, joint distributions), `tf.function`
and XLA, composite-tensor plumbing, slicing, `copy`, parameter properties,
gradients through samples and argument validation.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf.distributions import OverlappingExponential
from dvae_tf.distributions import OverlappingLogistic
from dvae_tf.distributions import OverlappingPower
from dvae_tf.distributions import SpikeAndExponential

tfd = tfp.distributions

FAMILIES = pytest.mark.parametrize(
    'cls',
    [OverlappingExponential, OverlappingLogistic, OverlappingPower,
     SpikeAndExponential],
    ids=lambda cls: cls.__name__)

LOGITS = np.array([[-1.5], [0.], [2.]], np.float32)  # [3, 1]
BETA = np.array([1., 3., 8., 20.], np.float32)  # [4]; batch shape [3, 4]
# Points of every family's support, including the ends of [0, 1].
ZETA = np.array([0., 0.05, 0.3, 0.5, 0.7, 0.95, 1.], np.float32)
# Same computation, different kernels or broadcasting: float32 rounding. The
# atol matters where a log density is 0 (the power family at beta = 1).
CLOSE = dict(rtol=1e-6, atol=1e-6)


def make(cls, **kwargs):
  """The family with batch shape [3, 4] unless parameters are overridden."""
  if 'probs' not in kwargs:
    kwargs.setdefault('logits', LOGITS)
  kwargs.setdefault('beta', BETA)
  return cls(**kwargs)


def grid(dtype=np.float32):
  """ZETA as [7, 1, 1], to broadcast against the batch shape [3, 4]."""
  return ZETA[:, None, None].astype(dtype)


def assert_differ(x, y):
  assert np.any(np.asarray(x) != np.asarray(y))


# Shapes.


@FAMILIES
def test_batch_shape_broadcasts_logits_and_beta(cls):
  dist = make(cls)
  assert dist.batch_shape == [3, 4]
  np.testing.assert_array_equal(dist.batch_shape_tensor(), [3, 4])
  assert dist.event_shape == []
  np.testing.assert_array_equal(dist.event_shape_tensor(), [])
  assert dist.sample(seed=(1, 2)).shape == [3, 4]
  assert dist.sample(5, seed=(1, 2)).shape == [5, 3, 4]
  assert dist.sample([2, 5], seed=(1, 2)).shape == [2, 5, 3, 4]
  assert dist.log_prob(0.3).shape == [3, 4]
  assert dist.log_prob(grid()).shape == [7, 3, 4]


@FAMILIES
def test_log_prob_broadcasts_like_scalar_distributions(cls):
  dist = make(cls)
  zeta = np.array([0.1, 0.4, 0.6, 0.9], np.float32)  # one per beta column
  expected = [[cls(beta=BETA[j], logits=LOGITS[i, 0]).log_prob(zeta[j])
               for j in range(4)] for i in range(3)]
  np.testing.assert_allclose(dist.log_prob(zeta), expected, **CLOSE)
  np.testing.assert_allclose(dist.cdf(zeta[None, :]),
                             [[cls(beta=BETA[j], logits=LOGITS[i, 0]).cdf(
                                 zeta[j]) for j in range(4)]
                              for i in range(3)], **CLOSE)


@FAMILIES
def test_batch_shape_tensor_with_unknown_static_shapes(cls):
  @tf.function(input_signature=[tf.TensorSpec(None, tf.float32)] * 2)
  def shapes(logits, beta):
    dist = cls(beta=beta, logits=logits)
    assert dist.batch_shape.rank is None
    return (dist.batch_shape_tensor(), tf.shape(dist.sample(5, seed=(1, 2))),
            tf.shape(dist.log_prob(0.3)))

  batch, sample, log_prob = shapes(LOGITS, BETA)
  np.testing.assert_array_equal(batch, [3, 4])
  np.testing.assert_array_equal(sample, [5, 3, 4])
  np.testing.assert_array_equal(log_prob, [3, 4])


# Seeds.


@FAMILIES
def test_same_stateless_seed_same_sample(cls):
  dist = make(cls)
  first = dist.sample(5, seed=(1, 2))
  np.testing.assert_array_equal(first, dist.sample(5, seed=(1, 2)))
  np.testing.assert_array_equal(
      first, dist.sample(5, seed=tf.constant([1, 2], tf.int32)))
  np.testing.assert_array_equal(
      first, dist.sample(5, seed=tfp.random.sanitize_seed((1, 2))))
  assert_differ(first, dist.sample(5, seed=(1, 3)))
  assert_differ(first, dist.sample(5, seed=(2, 2)))

  sanitized = tfp.random.sanitize_seed(20180710)
  np.testing.assert_array_equal(dist.sample(5, seed=sanitized),
                                dist.sample(5, seed=sanitized))
  part_a, part_b = tfp.random.split_seed(sanitized, n=2)
  assert_differ(dist.sample(5, seed=part_a), dist.sample(5, seed=part_b))


# Composition with other TFP distributions.


@FAMILIES
def test_independent_log_prob_sums_components(cls):
  dist = make(cls)
  independent = tfd.Independent(dist, reinterpreted_batch_ndims=1)
  assert independent.batch_shape == [3]
  assert independent.event_shape == [4]
  zeta = independent.sample(6, seed=(3, 4))
  assert zeta.shape == [6, 3, 4]
  np.testing.assert_allclose(independent.log_prob(zeta),
                             tf.reduce_sum(dist.log_prob(zeta), axis=-1),
                             **CLOSE)


def _joint_reference_log_prob(cls, zeta, x):
  """log q(zeta) + log N(x; zeta, 1), summed over the three units."""
  return (tf.reduce_sum(cls(beta=5., logits=LOGITS[:, 0]).log_prob(zeta),
                        axis=-1) +
          tf.reduce_sum(tfd.Normal(zeta, 1.).log_prob(x), axis=-1))


@FAMILIES
def test_joint_distribution_coroutine_autobatched(cls):
  @tfd.JointDistributionCoroutineAutoBatched
  def model():
    zeta = yield cls(beta=5., logits=LOGITS[:, 0], name='zeta')
    yield tfd.Normal(zeta, 1., name='x')

  zeta, x = model.sample(seed=(5, 6))
  assert zeta.shape == [3] and x.shape == [3]
  again = model.sample(seed=(5, 6))
  np.testing.assert_array_equal(zeta, again.zeta)
  np.testing.assert_array_equal(x, again.x)
  assert_differ(zeta, model.sample(seed=(5, 7)).zeta)
  np.testing.assert_allclose(model.log_prob((zeta, x)),
                             _joint_reference_log_prob(cls, zeta, x),
                             **CLOSE)


@FAMILIES
def test_joint_distribution_sequential(cls):
  model = tfd.JointDistributionSequential([
      tfd.Independent(cls(beta=5., logits=LOGITS[:, 0]), 1),
      lambda zeta: tfd.Independent(tfd.Normal(zeta, 1.), 1),
  ])
  zeta, x = model.sample(4, seed=(5, 6))
  assert zeta.shape == [4, 3] and x.shape == [4, 3]
  np.testing.assert_array_equal(zeta, model.sample(4, seed=(5, 6))[0])
  np.testing.assert_allclose(model.log_prob([zeta, x]),
                             _joint_reference_log_prob(cls, zeta, x),
                             **CLOSE)


# tf.function and XLA.


def _values(dist, seed):
  """Sample and deterministic values at ZETA; all of shape [7, 3, 4]."""
  zeta = tf.broadcast_to(grid(), [7, 3, 4])
  sample = dist.sample(7, seed=seed)
  return (sample, dist.log_prob(sample), dist.log_prob(zeta), dist.cdf(zeta),
          dist.posterior_logits(zeta))


@FAMILIES
def test_tf_function_matches_eager(cls):
  dist = make(cls)
  seed = tf.constant([7, 8], tf.int32)
  graph_values = tf.function(lambda seed: _values(dist, seed))(seed)
  for graph_value, eager_value in zip(graph_values, _values(dist, seed)):
    np.testing.assert_allclose(graph_value, eager_value, **CLOSE)


@FAMILIES
def test_xla_compiles_and_matches_eager(cls):
  """Under `jit_compile=True`, everything but the random bits equals eager.

  XLA lowers stateless RNG ops to a different bit stream than the TensorFlow
  kernels (tensorflow/tensorflow#117644, #121243), so an XLA sample is checked
  for reproducibility, for agreeing with eager `log_prob` and for its mean;
  the deterministic methods must agree with eager.
  """
  logits = tf.Variable(LOGITS)
  beta = tf.Variable(BETA)
  dist = make(cls, logits=logits, beta=beta)
  num_samples = 2000

  @tf.function(jit_compile=True)
  def compiled(seed):
    with tf.GradientTape() as tape:
      values = _values(dist, seed)
      many = dist.sample(num_samples, seed=seed)
      loss = tf.reduce_sum(many)
    return values, many, tape.gradient(loss, [logits, beta])

  seed = tf.constant([7, 8], tf.int32)
  (sample, sample_log_prob, *fixed), many, grads = compiled(seed)
  _, _, *eager_fixed = _values(dist, seed)
  for xla_value, eager_value in zip(fixed, eager_fixed):
    np.testing.assert_allclose(xla_value, eager_value, rtol=2e-6, atol=2e-6)
  np.testing.assert_allclose(sample_log_prob, dist.log_prob(sample),
                             rtol=1e-5, atol=1e-5)

  again = compiled(seed)
  np.testing.assert_array_equal(sample, again[0][0])
  assert_differ(sample, compiled(seed + 1)[0][0])

  many = many.numpy()
  standard_error = many.std(axis=0) / np.sqrt(num_samples)
  np.testing.assert_array_less(np.abs(many.mean(axis=0) - dist.mean()),
                               5. * standard_error + 1e-6)
  for grad in grads:
    assert np.all(np.isfinite(grad)) and np.any(grad != 0.)


# Composite tensor, slicing, copy and parameter properties.


@FAMILIES
def test_passes_tf_function_boundary_as_composite_tensor(cls):
  @tf.function
  def log_prob(dist, zeta):
    return dist.log_prob(zeta)

  for beta in (BETA, 2. * BETA):
    dist = make(cls, beta=tf.constant(beta))
    np.testing.assert_allclose(log_prob(dist, grid()), dist.log_prob(grid()),
                               **CLOSE)
  # Parameters are traced as tensors, not baked in as constants.
  assert log_prob.experimental_get_tracing_count() == 1


@FAMILIES
def test_flatten_and_pack_round_trip(cls):
  dist = make(cls)
  components = tf.nest.flatten(dist, expand_composites=True)
  assert len(components) == 2  # beta and logits; probs is None
  assert sorted(tuple(c.shape) for c in components) == [(3, 1), (4,)]

  new_values = [c + 1. if c.shape == [4] else -c for c in components]
  packed = tf.nest.pack_sequence_as(dist, new_values, expand_composites=True)
  assert type(packed) is cls
  expected = cls(beta=BETA + 1., logits=-LOGITS)
  np.testing.assert_allclose(packed.log_prob(grid()),
                             expected.log_prob(grid()), **CLOSE)


@FAMILIES
def test_slicing(cls):
  dist = make(cls)
  log_prob = dist.log_prob(grid())

  first_row = dist[0]
  assert first_row.batch_shape == [4]
  np.testing.assert_allclose(
      tf.broadcast_to(first_row.logits_parameter(), [4]), [LOGITS[0, 0]] * 4)
  np.testing.assert_allclose(tf.broadcast_to(first_row.beta, [4]), BETA)
  np.testing.assert_allclose(first_row.log_prob(grid()[:, 0]),
                             log_prob[:, 0], **CLOSE)

  last_columns = dist[..., 1:]
  assert last_columns.batch_shape == [3, 3]
  np.testing.assert_allclose(
      tf.broadcast_to(last_columns.beta, [3, 3]),
      np.broadcast_to(BETA[1:], [3, 3]))
  np.testing.assert_allclose(last_columns.log_prob(grid()),
                             log_prob[..., 1:], **CLOSE)

  corner = dist[1:, ::2]
  assert corner.batch_shape == [2, 2]
  np.testing.assert_allclose(corner.log_prob(grid()), log_prob[:, 1:, ::2],
                             **CLOSE)


@FAMILIES
def test_copy(cls):
  dist = make(cls, validate_args=True, name='q')
  same = dist.copy()
  assert type(same) is cls and same is not dist
  assert same.batch_shape == [3, 4] and same.validate_args
  assert same.name == dist.name
  np.testing.assert_array_equal(same.log_prob(grid()), dist.log_prob(grid()))

  hotter = dist.copy(beta=0.5)
  assert hotter.batch_shape == [3, 1]
  np.testing.assert_allclose(hotter.beta, 0.5)
  np.testing.assert_allclose(hotter.logits, LOGITS)
  np.testing.assert_allclose(hotter.log_prob(grid()[:, :, :1]),
                             cls(beta=0.5, logits=LOGITS).log_prob(
                                 grid()[:, :, :1]), **CLOSE)


@FAMILIES
def test_parameter_properties(cls):
  properties = cls.parameter_properties()
  assert set(properties) == {'beta', 'logits', 'probs'}
  assert all(p.event_ndims == 0 for p in properties.values())
  assert properties['logits'].is_preferred
  assert not properties['probs'].is_preferred
  beta_bijector = properties['beta'].default_constraining_bijector_fn()
  assert beta_bijector.forward(-30.) > 0.
  probs_bijector = properties['probs'].default_constraining_bijector_fn()
  np.testing.assert_allclose(probs_bijector.forward(0.), 0.5)

  parameters = make(cls).parameters
  np.testing.assert_array_equal(parameters['beta'], BETA)
  np.testing.assert_array_equal(parameters['logits'], LOGITS)
  assert parameters['probs'] is None


@FAMILIES
def test_make_trainable(cls):
  dist = tfp.experimental.util.make_trainable(
      cls, initial_parameters={'beta': 5.}, batch_and_event_shape=[3],
      seed=(1, 2))
  # make_trainable returns a DeferredModule that rebuilds `cls` on use.
  assert cls.__name__ in repr(dist) and dist.batch_shape == [3]
  assert dist.probs is None
  assert sorted(v.name for v in dist.trainable_variables) == ['beta:0',
                                                               'logits:0']
  np.testing.assert_allclose(tf.convert_to_tensor(dist.beta), [5.] * 3,
                             rtol=1e-5)
  with tf.GradientTape() as tape:
    loss = -tf.reduce_sum(dist.log_prob(dist.sample(4, seed=(3, 4))))
  for grad in tape.gradient(loss, dist.trainable_variables):
    assert grad is not None and np.all(np.isfinite(grad))


# Parameterizations, gradients and reparameterization.


@FAMILIES
def test_probs_construction_equals_logits_construction(cls):
  from_logits = make(cls)
  from_probs = make(cls, probs=tf.sigmoid(LOGITS))
  assert from_probs.batch_shape == [3, 4]
  np.testing.assert_allclose(from_probs.sample(6, seed=(1, 2)),
                             from_logits.sample(6, seed=(1, 2)),
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(from_probs.log_prob(grid()),
                             from_logits.log_prob(grid()), rtol=1e-5,
                             atol=1e-5)
  np.testing.assert_allclose(from_probs.logits_parameter(), LOGITS, atol=1e-6)
  np.testing.assert_allclose(from_logits.probs_parameter(),
                             from_probs.probs_parameter(), **CLOSE)


@FAMILIES
@pytest.mark.parametrize('parameterization', ['logits', 'probs'])
def test_sample_gradients_flow_to_variables(cls, parameterization):
  beta = tf.Variable(BETA)
  if parameterization == 'logits':
    location = tf.Variable(LOGITS)
  else:
    location = tf.Variable(tf.sigmoid(LOGITS))
  dist = make(cls, beta=beta, **{parameterization: location})
  assert {v.ref() for v in dist.trainable_variables} == {beta.ref(),
                                                         location.ref()}
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(dist.sample(50, seed=(1, 2)))
  location_grad, beta_grad = tape.gradient(loss, [location, beta])
  assert location_grad is not None and beta_grad is not None
  assert location_grad.shape == location.shape
  assert beta_grad.shape == beta.shape
  assert np.all(np.isfinite(location_grad)) and np.all(np.isfinite(beta_grad))
  # Raising q(z=1) moves samples towards 1: d zeta / d q >= 0.
  assert np.all(location_grad > 0.)
  assert np.any(beta_grad != 0.)


@FAMILIES
def test_fully_reparameterized(cls):
  assert make(cls).reparameterization_type is tfd.FULLY_REPARAMETERIZED


# Argument validation and dtypes.


@FAMILIES
def test_needs_exactly_one_of_logits_and_probs(cls):
  with pytest.raises(ValueError, match='exactly one of `logits` or `probs`'):
    cls(beta=1., logits=0., probs=0.5)
  with pytest.raises(ValueError, match='exactly one of `logits` or `probs`'):
    cls(beta=1.)
  with pytest.raises(ValueError, match='`beta`'):
    cls(beta=None, logits=0.)


@FAMILIES
@pytest.mark.parametrize('kwargs, message', [
    (dict(beta=-1., logits=0.), '`beta` must be positive'),
    (dict(beta=0., logits=0.), '`beta` must be positive'),
    (dict(beta=1., probs=1.5), '`probs` must be <= 1'),
    (dict(beta=1., probs=-0.1), '`probs` must be >= 0'),
])
def test_validate_args_names_bad_parameter(cls, kwargs, message):
  cls(validate_args=False, **kwargs)  # checks are opt-in, as in TFP
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    cls(validate_args=True, **kwargs)


@FAMILIES
def test_validate_args_checks_variables_when_used(cls):
  beta = tf.Variable(2.)
  dist = cls(beta=beta, logits=0., validate_args=True)
  dist.sample(seed=(1, 2))
  beta.assign(-2.)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='`beta` must be positive'):
    dist.sample(seed=(1, 2))


@FAMILIES
def test_float64_parameters_give_float64(cls):
  dist = make(cls, beta=BETA.astype(np.float64),
              logits=LOGITS.astype(np.float64))
  assert dist.dtype == tf.float64
  zeta = grid(np.float64)
  for value in (dist.sample(3, seed=(1, 2)), dist.log_prob(zeta),
                dist.cdf(zeta), dist.mean(), dist.posterior_logits(zeta)):
    assert value.dtype == tf.float64
  # A Python number adopts the dtype of the tensor parameter.
  assert cls(beta=2., logits=LOGITS.astype(np.float64)).dtype == tf.float64
  assert cls(beta=2, logits=0).dtype == tf.float32


@FAMILIES
def test_mixed_or_integer_dtypes_raise_clear_error(cls):
  with pytest.raises(TypeError, match=r'beta: float64, logits: float32'):
    cls(beta=BETA.astype(np.float64), logits=LOGITS)
  with pytest.raises(TypeError, match=r'beta: float32, probs: float64'):
    cls(beta=tf.constant(BETA), probs=tf.constant(0.5, tf.float64))
  with pytest.raises(TypeError, match=r'floating-point.*logits: int32'):
    cls(beta=2., logits=np.zeros(3, np.int32))
