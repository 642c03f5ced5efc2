"""A Boltzmann machine on any coloured graph as a TFP distribution.

Over binary units z in {0, 1}^n on the nodes of an undirected graph
G = (V, E) (`dvae_tf.graphs.Graph`), with biases b [n] and one coupling w_e
per edge e = (i, j),

    p(z) = exp(-E(z)) / Z,   E(z) = -b . z - sum_{(i,j) in E} w_ij z_i z_j.

Sec. 5's RBM is the complete bipartite case (`dvae_tf.distributions.RBM`).
A proper colouring splits V into classes V_0, ..., V_{C-1} with no edge
inside a class, so given the other classes the units of one class are
independent:

    p(z_c = 1 | z_rest) = sigmoid(b_c + sum_{j ~ c} w_cj z_j)   (the local
    field of each unit of class c),

which gives block Gibbs sampling (one sweep updates V_0, V_1, ... in turn)
and lets one class c* be summed out analytically:

    log sum_{z_c*} exp(-t E(z)) = -t E(z with z_c* = 0)
                                  + sum_{i in c*} softplus(t h_i(z)),

h_i the local field. `log_normalizer()` enumerates the 2^(n - |c*|) states of
the other classes (c* the largest class) with that sum, exactly, up to
`MAX_EXACT_UNITS` enumerated units; `ais_log_normalizer` anneals the same
marginal for larger graphs.

Local fields cost either a masked dense product (z times the symmetric
coupling matrix, n^2 per chain and sweep) or a gather over each unit's
neighbours and a sum (n * max degree); `DENSE_MAX_UNITS` picks between them
by the graph's size.
"""

import functools

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tensorflow_probability.python.internal import dtype_util
from tensorflow_probability.python.internal import parameter_properties
from tensorflow_probability.python.internal import prefer_static as ps
from tensorflow_probability.python.internal import reparameterization
from tensorflow_probability.python.internal import samplers
from tensorflow_probability.python.internal import tensor_util

from dvae_tf import graphs as graphs_lib
from dvae_tf.sampling import bernoulli_from_uniform
from dvae_tf.sampling import bernoulli_sample
from dvae_tf import philox
from dvae_tf import threefry

tfd = tfp.distributions

# Most units `log_normalizer()` enumerates (those outside the summed-out
# colour class): 2^24 states, in bounded memory.
MAX_EXACT_UNITS = 24
# Uniforms per chain that `block_gibbs` draws at once (see `RBM`).
GIBBS_DRAW_PER_CHAIN = 2**13
# Graphs of up to this many units compute local fields by dense products
# with the coupling matrix, larger ones by gathering neighbours. Per chain
# and sweep a dense product costs n^2 (1 - 1/C) multiply-adds and a gather
# n * max degree slower ones; on these CPUs (100 chains) they cross near
# 1,150 units for Chimera (degree 6), 700 for Pegasus (15) and 1,000 for
# Zephyr (20); see `dvae-benchmark --suites=boltzmann`.
DENSE_MAX_UNITS = 1024


def binary_states(start, count, num_units, dtype):
  """The states start, ..., start + count - 1 as rows of their binary digits.

  Args:
    start: int32 scalar, the first state's index.
    count: Python int, how many consecutive states.
    num_units: Python int, bits per state (at most 30).
    dtype: float dtype of the result.

  Returns:
    A `[count, num_units]` tensor; bit k of state s is in column k.
  """
  index = start + tf.range(count, dtype=tf.int32)
  bits = tf.bitwise.bitwise_and(
      tf.bitwise.right_shift(index[:, tf.newaxis],
                             tf.range(num_units, dtype=tf.int32)), 1)
  return tf.cast(bits, dtype)


def enumerate_log_sum_exp(log_f, num_units, batch_shape, dtype,
                          chunk_size=2**14):
  """log sum_s exp(log_f(s)) over all s in {0, 1}^num_units, chunk by chunk.

  The 2^num_units states are visited `chunk_size` at a time in a
  `tf.while_loop` with a running log-sum-exp, so memory is
  O(chunk_size * (work of log_f per state)) whatever num_units is.

  Args:
    log_f: states [chunk, 1, ..., 1, num_units] -> [chunk, *batch_shape].
    num_units: bits per state.
    batch_shape: int32 tensor, the batch shape the values broadcast to.
    dtype: float dtype.
    chunk_size: states per chunk (a power of two is best).
  """
  num_states = 2**num_units
  chunk = int(min(chunk_size, num_states))
  num_chunks = -(-num_states // chunk)
  minus_inf = dtype_util.as_numpy_dtype(dtype)(-np.inf)

  def body(i, total):
    start = i * chunk
    states = tf.reshape(
        binary_states(start, chunk, num_units, dtype),
        tf.concat([[chunk], tf.ones_like(batch_shape), [num_units]], 0))
    values = log_f(states)
    # The last chunk may run past 2^num_units; mask those states out.
    valid = tf.reshape(start + tf.range(chunk) < num_states,
                       tf.concat([[chunk], tf.ones_like(batch_shape)], 0))
    part = tf.reduce_logsumexp(tf.where(valid, values, minus_inf), axis=0)
    return i + 1, tf.reduce_logsumexp(tf.stack([total, part]), axis=0)

  _, log_z = tf.while_loop(lambda i, _: i < num_chunks, body,
                           (tf.constant(0), tf.fill(batch_shape, minus_inf)))
  return log_z


class SweepPlan:
  """What the sweeps of one graph need, computed once per graph.

  Units are taken in class order (class 0's units, then class 1's, ...):
  `order[k]` is the unit at class-ordered position k. For class c, units
  `offsets[c]:offsets[c] + sizes[c]` of that order; `neighbours[c]` [n_c, D]
  the class-ordered positions of each unit's neighbours and `edge_ids[c]`
  [n_c, D] the matching coupling indices, both padded to the class's largest
  degree D with position n and edge E (a zero unit and a zero coupling).
  `positions` [E, 2] are the edges' endpoints in class order.
  """

  def __init__(self, graph, dense):
    n = graph.num_nodes
    self.order = np.concatenate(graph.colour_classes).astype(np.int32)
    self.identity = bool(np.all(self.order == np.arange(n)))
    self.inverse = np.argsort(self.order).astype(np.int32)
    self.sizes = [len(c) for c in graph.colour_classes]
    self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).tolist()
    self.positions = self.inverse[graph.edges]
    self.dense = dense
    # The summed-out class: the largest (the last of equal ones).
    self.summed_out = int(max(range(len(self.sizes)),
                              key=lambda c: (self.sizes[c], c)))
    incident = [[] for _ in range(n)]
    for e, (i, j) in enumerate(self.positions):
      incident[i].append((j, e))
      incident[j].append((i, e))
    self.neighbours, self.edge_ids = [], []
    for offset, size in zip(self.offsets, self.sizes):
      rows = incident[offset:offset + size]
      degree = max(1, max(len(r) for r in rows))
      nbr = np.full((size, degree), n, dtype=np.int32)
      ids = np.full((size, degree), graph.num_edges, dtype=np.int32)
      for k, row in enumerate(rows):
        for d, (j, e) in enumerate(row):
          nbr[k, d], ids[k, d] = j, e
      self.neighbours.append(nbr)
      self.edge_ids.append(ids)

  @property
  def num_units(self):
    return int(sum(self.sizes))

  @property
  def num_classes(self):
    return len(self.sizes)

  def others(self, c):
    """Class-ordered positions of the units outside class c, in order."""
    return np.concatenate([np.arange(o, o + s) for k, (o, s) in enumerate(
        zip(self.offsets, self.sizes)) if k != c]).astype(np.int32)

  def split(self, z):
    """Class-ordered z [..., n] into the classes' [..., n_c]."""
    return [z[..., o:o + s] for o, s in zip(self.offsets, self.sizes)]


def sweep_plan(graph):
  """The `SweepPlan` of `graph`: dense local fields up to `DENSE_MAX_UNITS`
  units, neighbour gathers beyond."""
  return _cached_plan(graph, graph.num_nodes <= DENSE_MAX_UNITS)


@functools.lru_cache(maxsize=32)
def _cached_plan(graph, dense):
  return SweepPlan(graph, dense)


class Couplings:
  """The couplings of one call, ready for local fields in class order.

  Dense: per class c, the couplings from the other classes' units (in
  class order) to c's, [n - n_c, n_c], scattered once per call. Sparse:
  the couplings padded with a zero, gathered per class to [..., n_c, D].
  """

  def __init__(self, plan, biases, couplings):
    """Args: plan: a `SweepPlan`; biases [..., n] and couplings [..., E] in
    the graph's unit and edge order."""
    self.plan = plan
    self.biases = (biases if plan.identity else
                   tf.gather(biases, plan.order, axis=-1))
    self.class_biases = plan.split(self.biases)
    self.dense = plan.dense and couplings.shape.rank == 1
    n = plan.num_units
    if self.dense:
      positions = np.concatenate([plan.positions, plan.positions[:, ::-1]])
      matrix = tf.scatter_nd(positions, tf.concat([couplings] * 2, 0), [n, n])
      self.class_matrices = [
          tf.gather(matrix[:, o:o + size], plan.others(c))
          for c, (o, size) in enumerate(zip(plan.offsets, plan.sizes))]
    else:
      padded = tf.pad(couplings, [[0, 0]] * (couplings.shape.rank - 1) +
                      [[0, 1]])
      self.class_couplings = [tf.gather(padded, ids, axis=-1)
                              for ids in plan.edge_ids]

  def fields(self, z, c):
    """Local fields b_c + sum_j w_cj z_j of class c for class-ordered z."""
    plan = self.plan
    if self.dense:
      parts = plan.split(z)
      others = tf.concat(parts[:c] + parts[c + 1:], axis=-1)
      rows = tf.reshape(others, [-1, plan.num_units - plan.sizes[c]])
      product = tf.reshape(tf.matmul(rows, self.class_matrices[c]),
                           ps.concat([ps.shape(z)[:-1], [plan.sizes[c]]], 0))
    else:
      padded = tf.pad(z, [[0, 0]] * (z.shape.rank - 1) + [[0, 1]])
      product = tf.reduce_sum(
          tf.gather(padded, plan.neighbours[c], axis=-1) *
          self.class_couplings[c], axis=-1)
    return self.class_biases[c] + product

  def update(self, z, c, value):
    """z with class c's units replaced by `value`."""
    parts = self.plan.split(z)
    parts[c] = value
    return tf.concat(parts, axis=-1)


def _sweeps(plan, u, count, z, biases, couplings):
  """`count` sweeps over the classes 0..C-1 of class-ordered z, uniforms u."""
  ops = Couplings(plan, biases, couplings)

  def sweep(i, z):
    u_parts = plan.split(u[i])
    for c in range(plan.num_classes):
      z = ops.update(z, c, bernoulli_from_uniform(u_parts[c], ops.fields(z, c)))
    return i + 1, z

  return tf.while_loop(lambda i, _: i < count, sweep, (tf.constant(0), z))[1]


@functools.lru_cache(maxsize=32)
def _compiled_sweeps(plan):
  """`_sweeps` of one plan as one XLA function (the plan is static)."""
  return tf.function(functools.partial(_sweeps, plan), jit_compile=True,
                     autograph=False)


def blocked_sweeps(z, num_gibbs_sweeps, seed, num_units, dtype, run):
  """Sweeps in blocks of max(1, GIBBS_DRAW_PER_CHAIN // n), each block's
  uniforms one Threefry draw (`threefry.uniform`: a draw of fewer leading
  rows is a prefix of a larger one) seeded by `seed` folded with the block
  index.

  The blocks depend on the number of units only, so the chain is the same
  whether shapes are static or not (a shorter last block draws a prefix of
  the same stream).

  Args:
    z: [..., n] states.
    num_gibbs_sweeps: int, Python or scalar tensor.
    seed: a sanitized stateless seed.
    num_units: n.
    dtype: float dtype.
    run: (u [block, ..., n], count, z) -> z after `count` sweeps.
  """
  block = max(1, GIBBS_DRAW_PER_CHAIN // num_units)

  def run_block(index, count, z, num_drawn):
    u = threefry.uniform(ps.concat([[num_drawn], ps.shape(z)], 0),
                         philox.fold_in(seed, index), dtype)
    return run(u, count, z)

  sweeps = tf.get_static_value(num_gibbs_sweeps)
  if sweeps is not None and sweeps <= block:
    return run_block(0, int(sweeps), z, int(sweeps)) if sweeps else z
  num_gibbs_sweeps = tf.cast(num_gibbs_sweeps, tf.int32)

  def body(index, z):
    count = tf.minimum(block, num_gibbs_sweeps - index * block)
    return index + 1, run_block(index, count, z, block)

  return tf.while_loop(lambda index, _: index * block < num_gibbs_sweeps,
                       body, (tf.constant(0), z))[1]


class BoltzmannMachine(tfd.distribution.AutoCompositeTensorDistribution):
  """A Boltzmann machine over binary z on a coloured graph, event shape [n].

  p(z) proportional to exp(b . z + sum_{(i,j) in E} w_ij z_i z_j): see the
  module docstring. `log_prob` is exact (it calls `log_normalizer()`, so the
  units outside the largest colour class must number at most 24); `sample`
  runs `num_gibbs_sweeps` block Gibbs sweeps from the factorial
  distribution sigmoid(b) and is not reparameterized.

      graph = graphs.parse_graph('chimera:2')
      bm = BoltzmannMachine(graph, tf.zeros([32]), tf.zeros([graph.num_edges]))
      z = bm.sample(10, seed=(0, 1)); bm.log_normalizer()   # 32 log 2
  """

  def __init__(self, graph, biases, couplings, num_gibbs_sweeps=40,
               validate_args=False, allow_nan_stats=True,
               name='BoltzmannMachine'):
    """Builds the machine.

    Args:
      graph: a `dvae_tf.graphs.Graph`, or what `graphs.as_graph` reads.
      biases: b, float `Tensor` or variable [..., n], n the graph's nodes.
      couplings: w, float `Tensor` or variable [..., E], in the order of
        `graph.edges`.
      num_gibbs_sweeps: default number of block Gibbs sweeps of `sample`.
      validate_args: check shapes at run time too.
      allow_nan_stats: as in `tfd.Distribution`.
      name: name scope.

    Raises:
      ValueError: if the parameters' last dimensions do not match the graph.
    """
    graph = graphs_lib.as_graph(graph)
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      dtype = dtype_util.common_dtype([biases, couplings], tf.float32)
      self._biases = tensor_util.convert_nonref_to_tensor(
          biases, dtype=dtype, name='biases')
      self._couplings = tensor_util.convert_nonref_to_tensor(
          couplings, dtype=dtype, name='couplings')
      for arg, value, size in (('biases', self._biases, graph.num_nodes),
                               ('couplings', self._couplings,
                                graph.num_edges)):
        last = tf.compat.dimension_value(value.shape[-1]) if (
            value.shape.rank) else None
        if last != size:
          raise ValueError(
              f'BoltzmannMachine: `{arg}` must have shape [..., {size}] for '
              f'{graph!r}; got shape {value.shape}.')
      self._init_machine(graph, num_gibbs_sweeps)
      super().__init__(
          dtype=dtype,
          reparameterization_type=reparameterization.NOT_REPARAMETERIZED,
          validate_args=validate_args,
          allow_nan_stats=allow_nan_stats,
          parameters=parameters,
          name=name)

  def _init_machine(self, graph, num_gibbs_sweeps):
    self._graph = graph
    self._num_gibbs_sweeps = num_gibbs_sweeps

  @classmethod
  def _parameter_properties(cls, dtype, num_classes=None):
    return dict(
        biases=parameter_properties.ParameterProperties(event_ndims=1),
        couplings=parameter_properties.ParameterProperties(event_ndims=1))

  @property
  def graph(self):
    """The `dvae_tf.graphs.Graph`: units, edges, colouring."""
    return self._graph

  @property
  def biases(self):
    """b [..., n], one per unit."""
    return self._biases

  @property
  def couplings(self):
    """w [..., E], one per edge of `graph.edges`."""
    return self._couplings

  @property
  def num_units(self):
    return self._graph.num_nodes

  @property
  def num_gibbs_sweeps(self):
    """Block Gibbs sweeps used by `sample` when none is given."""
    return self._num_gibbs_sweeps

  def bias_tensor(self):
    """b [..., n] as a tensor (an RBM concatenates its two halves)."""
    return tf.convert_to_tensor(self._biases)

  def coupling_tensor(self):
    """w [..., E] as a tensor (an RBM flattens its W row by row)."""
    return tf.convert_to_tensor(self._couplings)

  def _event_shape(self):
    return tf.TensorShape([self.num_units])

  def _event_shape_tensor(self):
    return tf.constant([self.num_units], dtype=tf.int32)

  @property
  def plan(self):
    """The graph's `SweepPlan`."""
    return sweep_plan(self._graph)

  # Energy.

  def energy(self, z, name='energy'):
    """E(z) = -b . z - sum_{(i,j) in E} w_ij z_i z_j for z [..., n]."""
    with self._name_and_control_scope(name):
      z = tf.convert_to_tensor(z, dtype=self.dtype)
      return -(tf.reduce_sum(z * self.bias_tensor(), axis=-1) +
               self.pair_sum(z, z))

  def unnormalized_log_prob(self, z, name='unnormalized_log_prob'):
    """log p(z) + log Z = -E(z)."""
    return -self.energy(z, name=name)

  def pair_sum(self, x, y, edge_mask=None):
    """sum_e m_e w_e x_i y_j over edges e = (i, j), i < j in unit order.

    With x = y = z this is the pairwise part of -E(z); with the means of a
    factorial q it is the pairwise part of E_q[-E(z)] (Sec. 5).

    Args:
      x, y: [..., n].
      edge_mask: None (all ones) or a NumPy [E] array m of 0/1 weights.
    """
    w = self.coupling_tensor()
    if edge_mask is not None:
      w = w * tf.constant(edge_mask, dtype=w.dtype)
    edges = self._graph.edges
    return tf.reduce_sum(w * tf.gather(x, edges[:, 0], axis=-1) *
                         tf.gather(y, edges[:, 1], axis=-1), axis=-1)

  def local_fields(self, z, name='local_fields'):
    """h = b + W z, [..., n]: logits of p(z_i = 1 | the other units)."""
    with self._name_and_control_scope(name):
      z = tf.convert_to_tensor(z, dtype=self.dtype)
      plan = self.plan
      ops = Couplings(plan, self.bias_tensor(), self.coupling_tensor())
      zc = self._to_class_order(z)
      h = tf.concat([ops.fields(zc, c) for c in range(plan.num_classes)], -1)
      return self._from_class_order(h)

  def _to_class_order(self, z):
    plan = self.plan
    return z if plan.identity else tf.gather(z, plan.order, axis=-1)

  def _from_class_order(self, z):
    plan = self.plan
    return z if plan.identity else tf.gather(z, plan.inverse, axis=-1)

  # Summing one colour class out: the exact log Z and AIS.

  @property
  def num_enumerated_units(self):
    """Units outside the summed-out (largest) colour class."""
    plan = self.plan
    return self.num_units - plan.sizes[plan.summed_out]

  def marginal_log_prob(self, z_rest, beta=1.):
    """log sum_{z_c*} exp(-beta E(z)) with c* the largest class, [...].

    = -beta E(z with z_c* = 0) + sum_{i in c*} softplus(beta h_i(z)).

    Args:
      z_rest: [..., n - n_c*] the other classes' units, in class order.
      beta: inverse temperature (AIS), scalar.
    """
    plan, c_star = self.plan, self.plan.summed_out
    biases, couplings = self.bias_tensor(), self.coupling_tensor()
    ops = Couplings(plan, biases, couplings)
    z = self._with_summed_out(z_rest, self._zero_summed_out(z_rest))
    fields = ops.fields(z, c_star)
    pairs = tf.reduce_sum(
        couplings * tf.gather(z, plan.positions[:, 0], axis=-1) *
        tf.gather(z, plan.positions[:, 1], axis=-1), axis=-1)
    minus_energy = tf.reduce_sum(z * ops.biases, axis=-1) + pairs
    return beta * minus_energy + tf.reduce_sum(
        tf.math.softplus(beta * fields), axis=-1)

  def _zero_summed_out(self, z_rest):
    """Zeros in place of class c*'s units, [..., n_c*]."""
    size = self.plan.sizes[self.plan.summed_out]
    return tf.zeros(ps.concat([ps.shape(z_rest)[:-1], [size]], 0),
                    z_rest.dtype)

  def _with_summed_out(self, z_rest, z_star):
    """Class-ordered z from the other classes' units and class c*'s."""
    plan, c_star = self.plan, self.plan.summed_out
    offset = plan.offsets[c_star]
    return tf.concat([z_rest[..., :offset], z_star, z_rest[..., offset:]], -1)

  def tempered_sweep(self, z_rest, beta, seeds):
    """One Gibbs sweep at inverse temperature beta, class c* first.

    Draws z_c* ~ p_beta(z_c* | z_rest), then every other class in order
    given the rest; it leaves p_beta(z_rest) invariant (AIS transitions).

    Args:
      z_rest: [..., n - n_c*] in class order.
      beta: scalar inverse temperature.
      seeds: one stateless seed per colour class.

    Returns:
      The new z_rest.
    """
    plan, c_star = self.plan, self.plan.summed_out
    ops = Couplings(plan, self.bias_tensor(), self.coupling_tensor())
    z = self._with_summed_out(z_rest, self._zero_summed_out(z_rest))
    order = [c_star] + [c for c in range(plan.num_classes) if c != c_star]
    for c, seed in zip(order, seeds):
      z = ops.update(z, c, bernoulli_sample(beta * ops.fields(z, c), seed))
    offset, size = plan.offsets[c_star], plan.sizes[c_star]
    return tf.concat([z[..., :offset], z[..., offset + size:]], -1)

  def log_normalizer(self, chunk_size=2**14, name='log_normalizer'):
    """Exact log Z = logsumexp over z_rest of `marginal_log_prob(z_rest)`.

    The largest colour class is summed out analytically and the 2^m states
    of the other m units enumerated in chunks (`enumerate_log_sum_exp`), so
    memory is bounded; m must be at most `MAX_EXACT_UNITS`.

    Returns:
      log Z, a tensor of the batch shape.

    Raises:
      ValueError: if m > MAX_EXACT_UNITS; use `ais_log_normalizer` then.
    """
    m = self.num_enumerated_units
    if m > MAX_EXACT_UNITS:
      raise ValueError(
          f'{type(self).__name__}.log_normalizer: exact log Z enumerates the '
          f'2^{m} states of the {m} units outside the largest colour class '
          f'of {self._graph!r}; this is only supported up to '
          f'{MAX_EXACT_UNITS} units. Use '
          '`dvae_tf.distributions.ais_log_normalizer(machine, ...)` for an '
          'annealed importance sampling estimate instead.')
    with self._name_and_control_scope(name):
      return enumerate_log_sum_exp(self.marginal_log_prob, m,
                                   self.batch_shape_tensor(), self.dtype,
                                   chunk_size)

  def _log_prob(self, z):
    return -self.energy(z) - self.log_normalizer()

  # Sampling.

  def block_gibbs(self, z, num_gibbs_sweeps, seed, name='block_gibbs'):
    """Runs `num_gibbs_sweeps` block Gibbs sweeps from z [..., n].

    One sweep draws each colour class in turn, 0 to C-1, given the others,
    unit i as [u < sigmoid(h_i)] with u ~ U(0, 1). Sweeps run in blocks
    (`blocked_sweeps`), each one XLA-compiled loop whose local fields are a
    dense product or a neighbour gather (`DENSE_MAX_UNITS`). Stateless: the
    same `seed` gives the same chain, eagerly, under `tf.function` and XLA.

    Args:
      z: starting states [..., n].
      num_gibbs_sweeps: int, Python or scalar tensor.
      seed: a stateless seed (int or shape-[2] tensor).
      name: name scope.

    Returns:
      The states after the last sweep, the shape of `z`.
    """
    with self._name_and_control_scope(name):
      z = tf.convert_to_tensor(z, dtype=self.dtype)
      seed = samplers.sanitize_seed(seed, salt='BoltzmannMachine.block_gibbs')
      plan = self.plan
      run = _compiled_sweeps(plan)
      biases, couplings = self.bias_tensor(), self.coupling_tensor()
      zc = blocked_sweeps(
          self._to_class_order(z), num_gibbs_sweeps, seed, self.num_units,
          self.dtype, lambda u, count, z: run(u, count, z, biases, couplings))
      return self._from_class_order(zc)

  def _sample_n(self, n, seed=None, num_gibbs_sweeps=None):
    if num_gibbs_sweeps is None:
      num_gibbs_sweeps = self._num_gibbs_sweeps
    init_seed, gibbs_seed = philox.split(seed, n=2)
    logits = tf.broadcast_to(
        self.bias_tensor(),
        tf.concat([[n], self.batch_shape_tensor(), [self.num_units]], 0))
    return self.block_gibbs(bernoulli_sample(logits, init_seed),
                            num_gibbs_sweeps, gibbs_seed)

  def _default_event_space_bijector(self):
    return None

  # Ocean (dimod) interop.

  def to_bqm(self):
    """This machine as a dimod BINARY `BinaryQuadraticModel` (`to_bqm`)."""
    return to_bqm(self)

  @classmethod
  def from_bqm(cls, bqm, num_gibbs_sweeps=40):
    """The machine of a dimod BINARY BQM, units in `bqm.variables` order
    (`from_bqm`)."""
    return from_bqm(bqm, num_gibbs_sweeps=num_gibbs_sweeps)


# dimod's binary quadratic models: E(z) = sum_i h_i z_i + sum J_ij z_i z_j
# + offset over BINARY variables is this machine's energy with h = -b,
# J = -w, offset 0 (`dvae_tf.ocean` samples it with dimod samplers).

def _dimod():
  try:
    import dimod  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise ValueError('BQM interop needs dimod, which is not installed: pip '
                     'install "dvae_tf[ocean]".') from None
  return dimod


def to_bqm(machine):
  """The dimod BINARY BQM of a machine without batch dimensions.

  Variables are the graph's node labels, in unit order; h = -b, J = -w.

  Raises:
    ValueError: if the machine has batch dimensions.
  """
  dimod = _dimod()
  if machine.batch_shape.rank != 0:
    raise ValueError(f'to_bqm: the machine has batch shape '
                     f'{machine.batch_shape}; a BQM is one machine, so '
                     'slice the batch first (machine[i]).')
  graph = machine.graph
  b = np.asarray(machine.bias_tensor(), dtype=np.float64)
  w = np.asarray(machine.coupling_tensor(), dtype=np.float64)
  labels = list(graph.labels)
  bqm = dimod.BinaryQuadraticModel(dimod.BINARY)
  bqm.add_variables_from(zip(labels, -b))
  bqm.add_quadratic_from(
      (labels[i], labels[j], -value) for (i, j), value in zip(graph.edges, w))
  return bqm


def from_bqm(bqm, num_gibbs_sweeps=40):
  """The `BoltzmannMachine` of a BINARY BQM, units in `bqm.variables` order.

  b = -h, w = -J; the offset is dropped (it cancels in p). The graph is
  the BQM's interaction graph, coloured greedily.

  Raises:
    ValueError: if `bqm` is not a BQM or its vartype is not BINARY.
  """
  dimod = _dimod()
  if not isinstance(bqm, dimod.BinaryQuadraticModel):
    raise ValueError(f'from_bqm: expected a dimod.BinaryQuadraticModel, got '
                     f'{type(bqm).__name__}.')
  if bqm.vartype is not dimod.BINARY:
    raise ValueError(
        f'from_bqm: the BQM has {bqm.vartype.name} variables; a Boltzmann '
        'machine is over {0, 1}. Convert it first: '
        "bqm.change_vartype('BINARY', inplace=False).")
  labels = list(bqm.variables)
  index = {v: k for k, v in enumerate(labels)}
  quadratic = list(bqm.quadratic.items())
  edges = [(index[u], index[v]) for (u, v), _ in quadratic]
  graph = graphs_lib.Graph(labels, edges, name='bqm')
  # The graph sorts each edge (i < j) and the edge list; reorder J to match.
  position = {tuple(sorted(e)): k for k, e in enumerate(edges)}
  couplings = np.array([-quadratic[position[(i, j)]][1]
                        for i, j in graph.edges.tolist()], np.float32)
  biases = -np.array([bqm.get_linear(v) for v in labels], np.float32)
  return BoltzmannMachine(
      graph, biases, couplings, num_gibbs_sweeps=num_gibbs_sweeps)

