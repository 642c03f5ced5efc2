"""Boltzmann machines as dimod binary quadratic models (D-Wave's Ocean).

A Boltzmann machine p(z) = exp(-E(z)) / Z with
E(z) = -b . z - sum_{(i,j) in E} w_ij z_i z_j is the BINARY-vartype BQM

    E(z) = sum_i h_i z_i + sum_{(i,j)} J_ij z_i z_j + offset,
    h = -b,  J = -w,  offset = 0,

whose Boltzmann distribution at unit temperature is p. Any dimod sampler
(dwave-samplers' simulated annealing or Gibbs, a QPU through dwave-system
with an embedding) therefore samples the prior of a trained model; the
samples come back in the machine's unit order and decode like the
machine's own (`models.base.DiscreteVAE.decode_prior_samples`). Needs the
optional `ocean` extra (dimod, dwave-samplers, dwave-graphs).
"""

import numpy as np
import tensorflow as tf

from dvae_tf import graphs as graphs_lib
from dvae_tf.distributions import boltzmann_machine


def _dimod():
  try:
    import dimod  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise ValueError('Ocean interop needs dimod, which is not installed: pip '
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
  return boltzmann_machine.BoltzmannMachine(
      graph, biases, couplings, num_gibbs_sweeps=num_gibbs_sweeps)


def simulated_annealing():
  """dwave-samplers' simulated annealing, its schedule ending at inverse
  temperature 1 so the reads approximate p(z) rather than its ground states.

  Returns:
    (sampler, keyword arguments of its `sample`).
  """
  try:
    from dwave.samplers import SimulatedAnnealingSampler  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise ValueError('the simulated annealing sampler needs dwave-samplers: '
                     'pip install "dvae_tf[ocean]".') from None
  return SimulatedAnnealingSampler(), dict(
      beta_range=SIMULATED_ANNEALING_BETAS, num_sweeps=1000)


# The inverse temperatures simulated annealing runs through: from nearly
# uniform to the machine's own distribution.
SIMULATED_ANNEALING_BETAS = (0.01, 1.0)

# Samplers `dvae-sample --sampler` can name, each () -> (sampler, kwargs).
SAMPLERS = {'simulated_annealing': simulated_annealing}


def sample_machine(machine, sampler, num_reads, **sampler_kwargs):
  """Samples of a machine from a dimod sampler, [num_reads, n] in unit order.

  Args:
    machine: a `BoltzmannMachine` (or `RBM`) without batch dimensions.
    sampler: any `dimod.Sampler` (e.g. `dwave.samplers.SimulatedAnnealing
      Sampler()`; a QPU sampler with an embedding composite).
    num_reads: samples to draw.
    **sampler_kwargs: passed to `sampler.sample` (e.g. beta_range).

  Returns:
    float32 [num_reads, n] binary states (a sampler that aggregates returns
    each state as often as it was read).
  """
  if int(num_reads) < 1:
    raise ValueError(f'num_reads must be a positive integer; got {num_reads}.')
  bqm = to_bqm(machine)
  result = sampler.sample(bqm, num_reads=int(num_reads), **sampler_kwargs)
  labels = list(machine.graph.labels)
  states = result.record.sample
  column = {v: k for k, v in enumerate(result.variables)}
  states = states[:, [column[v] for v in labels]]
  states = np.repeat(states, result.record.num_occurrences, axis=0)
  return tf.constant(states[:int(num_reads)], dtype=tf.float32)
