"""The restricted Boltzmann machine prior of Sec. 5 as a TFP distribution.

The RBM is the Boltzmann machine (`boltzmann_machine.BoltzmannMachine`) on
the complete bipartite graph K_{n1, n2}: two colour classes, every left unit
coupled to every right one, the couplings a dense matrix W. It keeps its own
parameters (a1, a2, W) and computes with matrix products; everything that
works on a Boltzmann machine (AIS, persistent chains, the KL of Sec. 5, the
Ocean interop) works on it.

An RBM over binary z = [z1, z2] (z1 the n1 "left" units, z2 the n2 "right"
units) has energy and probability

    E(z) = -a1 . z1 - a2 . z2 - z1^T W z2,
    p(z) = exp(-E(z)) / Z,      Z = sum_z exp(-E(z)).

Because the graph is bipartite, one side sums out analytically:

    sum_{z2} exp(-E(z1, z2)) = exp(a1 . z1) prod_j (1 + exp(a2_j + (z1^T W)_j)),

so log Z is a log-sum-exp over the 2^min(n1, n2) states of the smaller side
only (the larger side is the summed-out colour class of the Boltzmann
machine). `log_normalizer()` enumerates those states in fixed-size chunks
inside a `tf.while_loop`, so memory stays bounded up to 24 units on the
smaller side; larger RBMs need annealed importance sampling
(`dvae_tf.distributions.ais`).

Samples come from block Gibbs sampling, alternating the two conditionals

    q(z1 = 1 | z2) = sigmoid(a1 + W z2),  q(z2 = 1 | z1) = sigmoid(a2 + W^T z1).
"""

import numpy as np
import tensorflow as tf

from tensorflow_probability.python.internal import dtype_util
from tensorflow_probability.python.internal import parameter_properties
from tensorflow_probability.python.internal import prefer_static as ps
from tensorflow_probability.python.internal import reparameterization
from tensorflow_probability.python.internal import samplers
from tensorflow_probability.python.internal import tensor_util

from dvae_tf import graphs
from dvae_tf.distributions import boltzmann_machine
from dvae_tf.distributions.boltzmann_machine import GIBBS_DRAW_PER_CHAIN
from dvae_tf.sampling import bernoulli_from_uniform
from dvae_tf.sampling import bernoulli_sample
from dvae_tf import philox

__all__ = ['RBM', 'GIBBS_DRAW_PER_CHAIN', 'times_weights']


def times_weights(w, z, transpose):
  """W z ([..., n1] from z [..., n2]), or W^T z when `transpose`.

  Without batch dimensions on W this is one matrix product of all of z's
  rows with W (`tf.linalg.matvec` would broadcast W to every row and run a
  batched matrix-vector product, several times slower).
  """
  if w.shape.rank != 2:
    return tf.linalg.matvec(w, z, adjoint_a=transpose)
  width = w.shape[1] if transpose else w.shape[0]
  rows = tf.reshape(z, [-1, ps.shape(z)[-1]])
  product = tf.matmul(rows, w, transpose_b=not transpose)
  return tf.reshape(product, ps.concat([ps.shape(z)[:-1], [width]], 0))


@tf.function(jit_compile=True, autograph=False)
def _gibbs_sweeps(u, count, z, linear_left, linear_right, weights,
                  num_left):
  """`count` block Gibbs sweeps of z [..., n1 + n2] with uniforms u[i].

  u: [block, ..., n1 + n2] with block >= count; sweep i sets
  z2 = [u[i, ..., n1:] < sigmoid(a2 + W^T z1)], then
  z1 = [u[i, ..., :n1] < sigmoid(a1 + W z2)]. One XLA loop, so each
  half-sweep's elementwise work fuses into one pass.
  """
  z1, z2 = z[..., :num_left], z[..., num_left:]

  def sweep(i, z1, z2):
    # u[i] first: XLA 2.21 miscompiles u[i, ..., a:b] with a loop index i.
    u_i = u[i]
    z2 = bernoulli_from_uniform(
        u_i[..., num_left:], linear_right + times_weights(weights, z1, True))
    z1 = bernoulli_from_uniform(
        u_i[..., :num_left], linear_left + times_weights(weights, z2, False))
    return i + 1, z1, z2

  _, z1, z2 = tf.while_loop(lambda i, *_: i < count, sweep,
                            (tf.constant(0), z1, z2))
  return tf.concat([z1, z2], axis=-1)


class RBM(boltzmann_machine.BoltzmannMachine):
  """A restricted Boltzmann machine over z = [z1, z2], event shape [n1 + n2].

  Parameters are the left and right biases a1 [n1], a2 [n2] and the coupling
  W [n1, n2] (any leading batch dimensions broadcast). Variables may be passed
  in; they are read afresh at every call, so gradients reach them.

  `log_prob` is exact: it calls `log_normalizer()`, which enumerates the
  smaller side and therefore needs min(n1, n2) <= 24. `sample` runs
  `num_gibbs_sweeps` block Gibbs sweeps from a start drawn from the factorial
  distribution sigmoid(a1); it is exact only in the limit of many sweeps, and
  is not reparameterized (samples are binary).

      rbm = RBM(tf.zeros([8]), tf.zeros([8]), tf.zeros([8, 8]))
      rbm.log_normalizer()                      # exact: 16 log 2
      z = rbm.sample(10, seed=(0, 1))           # [10, 16]
  """

  def __init__(self, linear_left, linear_right, weights, num_gibbs_sweeps=40,
               validate_args=False, allow_nan_stats=True, name='RBM'):
    """Builds the RBM.

    Args:
      linear_left: a1, float `Tensor` or variable of shape [..., n1].
      linear_right: a2, float `Tensor` or variable of shape [..., n2].
      weights: W, float `Tensor` or variable of shape [..., n1, n2].
      num_gibbs_sweeps: default number of block Gibbs sweeps used by `sample`.
      validate_args: check shapes at run time too.
      allow_nan_stats: as in `tfd.Distribution`.
      name: name scope.

    Raises:
      ValueError: if the static shapes of the three parameters disagree.
    """
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      dtype = dtype_util.common_dtype([linear_left, linear_right, weights],
                                      tf.float32)
      self._linear_left = tensor_util.convert_nonref_to_tensor(
          linear_left, dtype=dtype, name='linear_left')
      self._linear_right = tensor_util.convert_nonref_to_tensor(
          linear_right, dtype=dtype, name='linear_right')
      self._weights = tensor_util.convert_nonref_to_tensor(
          weights, dtype=dtype, name='weights')
      n1 = tf.compat.dimension_value(self._linear_left.shape[-1])
      n2 = tf.compat.dimension_value(self._linear_right.shape[-1])
      w_shape = self._weights.shape
      if n1 is None or n2 is None:
        raise ValueError('RBM: the number of units (last dimension of '
                         '`linear_left` and `linear_right`) must be known '
                         'statically.')
      if w_shape.rank is not None and w_shape.rank < 2:
        raise ValueError(f'RBM: `weights` must have shape [..., n1, n2]; got '
                         f'shape {w_shape}.')
      if w_shape.rank is not None and tuple(w_shape[-2:]) != (n1, n2):
        raise ValueError(
            f'RBM: `weights` has shape {w_shape} but `linear_left` has {n1} '
            f'units and `linear_right` has {n2}: expected [..., {n1}, {n2}].')
      self._num_left = n1
      self._num_right = n2
      self._init_machine(graphs.complete_bipartite(n1, n2), num_gibbs_sweeps)
      # The machine's parameters are a1, a2 and W, not (b, w): skip
      # `BoltzmannMachine.__init__` and its checks.
      super(boltzmann_machine.BoltzmannMachine, self).__init__(
          dtype=dtype,
          reparameterization_type=reparameterization.NOT_REPARAMETERIZED,
          validate_args=validate_args,
          allow_nan_stats=allow_nan_stats,
          parameters=parameters,
          name=name)

  @classmethod
  def _parameter_properties(cls, dtype, num_classes=None):
    return dict(
        linear_left=parameter_properties.ParameterProperties(event_ndims=1),
        linear_right=parameter_properties.ParameterProperties(event_ndims=1),
        weights=parameter_properties.ParameterProperties(event_ndims=2))

  @property
  def linear_left(self):
    """a1, the biases of the left units z1."""
    return self._linear_left

  @property
  def linear_right(self):
    """a2, the biases of the right units z2."""
    return self._linear_right

  @property
  def weights(self):
    """W, the couplings between z1 and z2."""
    return self._weights

  @property
  def num_left(self):
    """n1, the number of left units."""
    return self._num_left

  @property
  def num_right(self):
    """n2, the number of right units."""
    return self._num_right

  @property
  def biases(self):
    """b = [a1, a2], as a tensor."""
    return self.bias_tensor()

  @property
  def couplings(self):
    """w = W row by row, as a tensor."""
    return self.coupling_tensor()

  def bias_tensor(self):
    """b = [a1, a2]."""
    return tf.concat([tf.convert_to_tensor(self._linear_left),
                      tf.convert_to_tensor(self._linear_right)], axis=-1)

  def coupling_tensor(self):
    """w = W row by row: edge (i, n1 + j) is number i * n2 + j."""
    w = tf.convert_to_tensor(self._weights)
    return tf.reshape(w, ps.concat([ps.shape(w)[:-2],
                                    [self._num_left * self._num_right]], 0))

  def split(self, z):
    """Splits z [..., n1 + n2] into (z1 [..., n1], z2 [..., n2])."""
    z = tf.convert_to_tensor(z, dtype=self.dtype)
    return z[..., :self._num_left], z[..., self._num_left:]

  # Energy and conditionals.

  def _times_weights(self, z, transpose):
    return times_weights(tf.convert_to_tensor(self._weights), z, transpose)

  def energy(self, z, name='energy'):
    """E(z) = -a1 . z1 - a2 . z2 - z1^T W z2 for z [..., n1 + n2]."""
    with self._name_and_control_scope(name):
      z1, z2 = self.split(z)
      return -(tf.reduce_sum(z1 * self._linear_left, axis=-1) +
               tf.reduce_sum(z2 * self._linear_right, axis=-1) +
               tf.reduce_sum(z1 * self._times_weights(z2, False), axis=-1))

  def pair_sum(self, x, y, edge_mask=None):
    """sum_{a, b} m_ab W_ab x1_a y2_b: `BoltzmannMachine.pair_sum` as one
    matrix product, the mask m [n1 * n2] read as [n1, n2]."""
    w = tf.convert_to_tensor(self._weights)
    if edge_mask is not None:
      w = w * tf.constant(np.reshape(edge_mask, [self._num_left,
                                                 self._num_right]), w.dtype)
    return tf.reduce_sum(
        times_weights(w, y[..., self._num_left:], False) *
        x[..., :self._num_left], axis=-1)

  def local_fields(self, z, name='local_fields'):
    """h = [a1 + W z2, a2 + W^T z1]."""
    with self._name_and_control_scope(name):
      z1, z2 = self.split(z)
      return tf.concat([self.left_conditional_logits(z2),
                        self.right_conditional_logits(z1)], axis=-1)

  def left_conditional_logits(self, z2, name='left_conditional_logits'):
    """Logits of q(z1 = 1 | z2): a1 + W z2."""
    with self._name_and_control_scope(name):
      z2 = tf.convert_to_tensor(z2, dtype=self.dtype)
      return self._linear_left + self._times_weights(z2, False)

  def right_conditional_logits(self, z1, name='right_conditional_logits'):
    """Logits of q(z2 = 1 | z1): a2 + W^T z1."""
    with self._name_and_control_scope(name):
      z1 = tf.convert_to_tensor(z1, dtype=self.dtype)
      return self._linear_right + self._times_weights(z1, True)

  def left_marginal_unnormalized_log_prob(self, z1):
    """log sum_{z2} exp(-E(z1, z2)) = a1 . z1 + sum_j softplus(a2 + W^T z1)_j."""
    z1 = tf.convert_to_tensor(z1, dtype=self.dtype)
    return (tf.reduce_sum(z1 * self._linear_left, axis=-1) + tf.reduce_sum(
        tf.math.softplus(self.right_conditional_logits(z1)), axis=-1))

  def right_marginal_unnormalized_log_prob(self, z2):
    """log sum_{z1} exp(-E(z1, z2)) = a2 . z2 + sum_i softplus(a1 + W z2)_i."""
    z2 = tf.convert_to_tensor(z2, dtype=self.dtype)
    return (tf.reduce_sum(z2 * self._linear_right, axis=-1) + tf.reduce_sum(
        tf.math.softplus(self.left_conditional_logits(z2)), axis=-1))

  # The summed-out side: the exact log Z and AIS.

  def marginal_log_prob(self, z_rest, beta=1.):
    """log sum_{z_l} exp(-beta E(z)) for the smaller side's units z_rest.

    The larger side l (the right one when n1 = n2) is summed out:
    beta a_s . z_s + sum softplus(beta (a_l + (W-side) z_s)), as in
    `left_marginal_unnormalized_log_prob` at beta = 1.
    """
    z_rest = tf.convert_to_tensor(z_rest, dtype=self.dtype)
    if self._sums_out_right:
      linear, logits = self._linear_left, self.right_conditional_logits
    else:
      linear, logits = self._linear_right, self.left_conditional_logits
    return (beta * tf.reduce_sum(z_rest * linear, axis=-1) + tf.reduce_sum(
        tf.math.softplus(beta * logits(z_rest)), axis=-1))

  @property
  def _sums_out_right(self):
    return self.plan.summed_out == 1

  def tempered_sweep(self, z_rest, beta, seeds):
    """One Gibbs sweep at inverse temperature beta, the larger side first
    (`BoltzmannMachine.tempered_sweep` with two matrix products)."""
    first, second = seeds[0], seeds[1]
    if self._sums_out_right:
      z2 = bernoulli_sample(beta * self.right_conditional_logits(z_rest),
                            first)
      return bernoulli_sample(beta * self.left_conditional_logits(z2), second)
    z1 = bernoulli_sample(beta * self.left_conditional_logits(z_rest), first)
    return bernoulli_sample(beta * self.right_conditional_logits(z1), second)

  # Sampling.

  def block_gibbs(self, z, num_gibbs_sweeps, seed, name='block_gibbs'):
    """Runs `num_gibbs_sweeps` sweeps of block Gibbs sampling from z.

    One sweep draws z2 ~ q(z2 | z1), then z1 ~ q(z1 | z2), each unit as
    [u < sigmoid(logit)] with u ~ U(0, 1). The sweeps run in blocks of
    max(1, GIBBS_DRAW_PER_CHAIN // (n1 + n2)): the uniforms of a block are
    one Threefry draw (`threefry.uniform`), seeded by `seed` folded with
    the block's index, and its sweeps one XLA-compiled loop
    (`_gibbs_sweeps`), so a sweep costs two matrix products and one fused elementwise pass. The
    blocks depend on the number of units only, so the chain is the same
    whether shapes are static or not (a shorter last block draws a prefix
    of the same stream).
    Stateless: the same `seed` gives the same chain; works eagerly, under
    `tf.function` and inside XLA.

    Args:
      z: starting states [..., n1 + n2] (the z2 half is overwritten first).
      num_gibbs_sweeps: int, Python or scalar tensor.
      seed: a stateless seed (int or shape-[2] tensor).
      name: name scope.

    Returns:
      The states after the last sweep, the shape of `z` (`z` itself when
      `num_gibbs_sweeps` is 0).
    """
    with self._name_and_control_scope(name):
      z = tf.convert_to_tensor(z, dtype=self.dtype)
      seed = samplers.sanitize_seed(seed, salt='RBM.block_gibbs')
      params = (tf.convert_to_tensor(self._linear_left),
                tf.convert_to_tensor(self._linear_right),
                tf.convert_to_tensor(self._weights))
      return boltzmann_machine.blocked_sweeps(
          z, num_gibbs_sweeps, seed, self.num_units, self.dtype,
          lambda u, count, z: _gibbs_sweeps(u, count, z, *params,
                                            num_left=self._num_left))

  def _sample_n(self, n, seed=None, num_gibbs_sweeps=None):
    if num_gibbs_sweeps is None:
      num_gibbs_sweeps = self._num_gibbs_sweeps
    init_seed, gibbs_seed = philox.split(seed, n=2)
    logits = tf.broadcast_to(
        tf.convert_to_tensor(self._linear_left),
        tf.concat([self.batch_shape_tensor(), [self._num_left]], 0))
    logits = tf.broadcast_to(logits, tf.concat([[n], ps.shape(logits)], 0))
    z1 = bernoulli_sample(logits, init_seed)
    z = tf.concat([z1, tf.zeros(tf.concat([ps.shape(z1)[:-1],
                                           [self._num_right]], 0), self.dtype)],
                  axis=-1)
    return self.block_gibbs(z, num_gibbs_sweeps, gibbs_seed)

  def _parameter_control_dependencies(self, is_init):
    """With `validate_args`, checks at run time that W is [..., n1, n2]."""
    # As in TFP: tensors are checked once at construction, variables (which
    # may change) at every call.
    if not self.validate_args or is_init == tensor_util.is_ref(self._weights):
      return []
    shape = tf.shape(self._weights)[-2:]
    return [tf.debugging.assert_equal(
        shape, tf.constant([self._num_left, self._num_right]),
        message=(f'RBM: `weights` must have shape [..., {self._num_left}, '
                 f'{self._num_right}] to match `linear_left` and '
                 '`linear_right`.'))]
