"""Block Gibbs sweeps per second on quantum-annealer graphs.

For each hardware-size graph (Pegasus P6 and P16, Zephyr Z4, Chimera C16)
the Boltzmann machine's sweeps are timed with local fields from a dense
product and from neighbour gathers, interleaved with the complete bipartite
RBM of the same unit count (`distributions.RBM`, two matrix products per
sweep). The ratios say what a hardware graph costs against the paper's RBM,
and where `boltzmann_machine.DENSE_MAX_UNITS` should switch.
"""

import numpy as np
import tensorflow as tf

from dvae_tf import distributions
from dvae_tf import graphs
from dvae_tf.benchmarks import timing
from dvae_tf.distributions import boltzmann_machine

GRAPHS = ('pegasus:6', 'zephyr:4', 'chimera:16', 'pegasus:16')
QUICK_GRAPHS = ('chimera:2', 'pegasus:2')
# Dense local fields are timed up to this many units.
DENSE_LIMIT = 4 * boltzmann_machine.DENSE_MAX_UNITS


def _with_fields(graph, dense, biases, couplings):
  """The machine on `graph`, its sweep plan forced dense or gathered."""
  machine = distributions.BoltzmannMachine(graph, biases, couplings)
  plan = boltzmann_machine._cached_plan(graph, dense)  # pylint: disable=protected-access
  sweeps = boltzmann_machine._compiled_sweeps(plan)  # pylint: disable=protected-access
  return lambda z, n, seed: boltzmann_machine.blocked_sweeps(
      z, n, seed, graph.num_nodes, tf.float32,
      lambda u, count, z: sweeps(u, count, z, machine.bias_tensor(),
                                 machine.coupling_tensor()))


def graph_rows(spec, num_chains, num_sweeps, repeats):
  """Sweeps per second of the graph (dense, gathered) and of the RBM."""
  rng = np.random.default_rng(0)
  graph = graphs.parse_graph(spec)
  n = graph.num_nodes
  biases = rng.normal(0, .1, n).astype(np.float32)
  couplings = rng.normal(0, .1, graph.num_edges).astype(np.float32)
  rbm = distributions.RBM(
      rng.normal(0, .1, n // 2).astype(np.float32),
      rng.normal(0, .1, n - n // 2).astype(np.float32),
      rng.normal(0, .1, (n // 2, n - n // 2)).astype(np.float32))
  z = tf.zeros([num_chains, n])
  seed = tf.constant([3, 4])
  candidates = {
      'dense': _with_fields(graph, True, biases, couplings),
      'gather': _with_fields(graph, False, biases, couplings),
      'rbm': rbm.block_gibbs,
  }
  if n > DENSE_LIMIT:  # n^2 work per chain and sweep: not worth timing.
    del candidates['dense']
  seconds = timing.interleaved_seconds(
      {name: (lambda fn=fn: fn(z, num_sweeps, seed))
       for name, fn in candidates.items()}, repeats=repeats, inner=1)
  chosen = 'dense' if n <= boltzmann_machine.DENSE_MAX_UNITS else 'gather'
  return [{
      'graph': spec, 'units': n, 'edges': graph.num_edges,
      'max_degree': graph.max_degree, 'colours': graph.num_colours,
      'chains': num_chains, 'fields': name,
      'default': name == chosen,
      'sweeps_per_s': num_sweeps / t,
      'time_vs_rbm': t / seconds['rbm'],
  } for name, t in seconds.items()]


def boltzmann_suite(quick=False, data_dir=None, **unused_options):
  """Runs the suite; `quick` shrinks it to a smoke test."""
  del data_dir  # Synthetic machines only.
  rows = []
  for spec in QUICK_GRAPHS if quick else GRAPHS:
    rows += graph_rows(spec, num_chains=10 if quick else 100,
                       num_sweeps=2 if quick else 20,
                       repeats=2 if quick else 5)
  default = {r['graph']: r['time_vs_rbm'] for r in rows if r['default']}
  best = {}
  for r in rows:
    if r['fields'] != 'rbm':
      best[r['graph']] = min(best.get(r['graph'], np.inf), r['time_vs_rbm'])
  return {
      'tables': {'gibbs_sweeps': rows},
      'summary': {
          'default_time_vs_rbm': default,
          'default_is_faster_choice': {
              g: default[g] <= best[g] * 1.1 for g in default},
      },
  }
