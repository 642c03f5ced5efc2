"""Boltzmann machines as dimod binary quadratic models (D-Wave's Ocean).

A Boltzmann machine p(z) = exp(-E(z)) / Z with
E(z) = -b . z - sum_{(i,j) in E} w_ij z_i z_j is the BINARY-vartype BQM

    E(z) = sum_i h_i z_i + sum_{(i,j)} J_ij z_i z_j + offset,
    h = -b,  J = -w,  offset = 0,

whose Boltzmann distribution at unit temperature is p
(`BoltzmannMachine.to_bqm`, `BoltzmannMachine.from_bqm`). Any dimod sampler
(dwave-samplers' simulated annealing or Gibbs, a QPU through dwave-system
with an embedding) therefore samples the prior of a trained model; the
samples come back in the machine's unit order and decode like the
machine's own (`models.base.DiscreteVAE.decode_global`). Needs the
optional `ocean` extra (dimod, dwave-samplers, dwave-graphs).
"""

import numpy as np
import tensorflow as tf


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
  bqm = machine.to_bqm()
  result = sampler.sample(bqm, num_reads=int(num_reads), **sampler_kwargs)
  labels = list(machine.graph.labels)
  states = result.record.sample
  column = {v: k for k, v in enumerate(result.variables)}
  states = states[:, [column[v] for v in labels]]
  states = np.repeat(states, result.record.num_occurrences, axis=0)
  return tf.constant(states[:int(num_reads)], dtype=tf.float32)
