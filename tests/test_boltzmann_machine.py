"""The Boltzmann machine on a coloured graph against brute-force enumeration.

Every number here is checked against an independent computation: log Z,
marginals and pair moments by summing over all 2^n states in NumPy, AIS
against the exact log Z, energies against dimod's, and sampler statistics
within their Monte Carlo error.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf import graphs
from dvae_tf.distributions import BoltzmannMachine
from dvae_tf.distributions import PersistentChains
from dvae_tf.distributions import RBM
from dvae_tf.distributions import ais_log_normalizer
from dvae_tf.distributions import boltzmann_machine as bm_lib

tfd = tfp.distributions


def induced_first(graph, count):
  """The subgraph on the first `count` units of each colour class in turn
  (so every class keeps some units), laid out by colour."""
  classes = graph.colour_classes
  units, k = [], 0
  while len(units) < count:
    for cls in classes:
      if k < len(cls) and len(units) < count:
        units.append(int(cls[k]))
    k += 1
  return graph.induced(sorted(units)).sorted_by_colour()


def edge_list_graph():
  """An odd cycle with a chord and a pendant: 3 colours, greedy colouring."""
  return graphs.graph_from_dict({
      'name': 'cycle', 'edges': [['a', 'b'], ['b', 'c'], ['c', 'd'],
                                 ['d', 'e'], ['e', 'a'], ['a', 'c'],
                                 ['e', 'f']]}).sorted_by_colour()


# Every family, small enough to enumerate (at most 22 units; Pegasus's 20
# keep its 4 colour classes and 34 couplers, and take 1/4 the time of 22).
FAMILY_GRAPHS = {
    'bipartite': lambda: graphs.parse_graph('bipartite:5,7'),
    'chimera': lambda: graphs.parse_graph('chimera:1,2'),  # 16 units
    'pegasus': lambda: induced_first(graphs.parse_graph('pegasus:2'), 20),
    'zephyr': lambda: induced_first(graphs.parse_graph('zephyr:1'), 20),
    'zephyr_t1': lambda: graphs.parse_graph('zephyr:1,1'),  # 12 units
    'edge_list': edge_list_graph,
}
FAMILIES = pytest.mark.parametrize('family', sorted(FAMILY_GRAPHS))


def random_machine(graph, rng, scale=0.7, batch=()):
  b = rng.normal(0., scale, batch + (graph.num_nodes,)).astype(np.float32)
  w = rng.normal(0., scale, batch + (graph.num_edges,)).astype(np.float32)
  return BoltzmannMachine(graph, b, w), b.astype(np.float64), w.astype(
      np.float64)


def enumerate_states(n):
  return np.array(list(itertools.product([0., 1.], repeat=n)))


def brute_force(graph, b, w):
  """(log Z, states [2^n, n], probabilities [2^n]) by enumeration."""
  states = enumerate_states(graph.num_nodes)
  minus_energy = states @ b + np.sum(
      w * states[:, graph.edges[:, 0]] * states[:, graph.edges[:, 1]], -1)
  top = minus_energy.max()
  log_z = top + np.log(np.exp(minus_energy - top).sum())
  return log_z, states, np.exp(minus_energy - log_z)


@pytest.fixture(params=[False, True], ids=['dense', 'gather'])
def local_fields(request, monkeypatch):
  """Runs a test with dense local fields and again with neighbour gathers."""
  if request.param:
    monkeypatch.setattr(bm_lib, 'DENSE_MAX_UNITS', 0)
  return request.param


@FAMILIES
def test_exact_log_z_and_log_prob_match_enumeration(family, rng):
  graph = FAMILY_GRAPHS[family]()
  assert graph.num_nodes <= 22
  machine, b, w = random_machine(graph, rng)
  log_z, states, probs = brute_force(graph, b, w)
  np.testing.assert_allclose(machine.log_normalizer(), log_z, rtol=1e-6)
  pick = rng.choice(len(states), 50)
  np.testing.assert_allclose(machine.log_prob(states[pick]),
                             np.log(probs[pick]), atol=2e-4)


def test_log_z_of_a_batch_matches_each_machine(rng):
  graph = FAMILY_GRAPHS['zephyr_t1']()
  machine, b, w = random_machine(graph, rng, batch=(3,))
  assert machine.batch_shape == [3]
  expected = [brute_force(graph, b[i], w[i])[0] for i in range(3)]
  np.testing.assert_allclose(machine.log_normalizer(chunk_size=64), expected,
                             rtol=1e-6)


@FAMILIES
def test_gibbs_marginals_and_pair_moments_match_enumeration(
    family, rng, local_fields):
  graph = FAMILY_GRAPHS[family]()
  machine, b, w = random_machine(graph, rng, scale=0.5)
  _, states, probs = brute_force(graph, b, w)
  num = 20000
  z = machine.sample(num, seed=(3, 4), num_gibbs_sweeps=30).numpy()
  mean = probs @ states
  pairs = probs @ (states[:, graph.edges[:, 0]] * states[:, graph.edges[:, 1]])
  # Independent chains: standard errors <= 0.5 / sqrt(num) = 0.0035.
  np.testing.assert_allclose(z.mean(0), mean, atol=0.02)
  np.testing.assert_allclose(
      (z[:, graph.edges[:, 0]] * z[:, graph.edges[:, 1]]).mean(0), pairs,
      atol=0.02)


def test_dense_and_gathered_local_fields_agree(rng, monkeypatch):
  graph = graphs.parse_graph('pegasus:2')
  machine, b, w = random_machine(graph, rng)
  z = (rng.random((7, graph.num_nodes)) < 0.5).astype(np.float32)
  expected = b + np.array([
      [sum(w[e] * z[r, j if i == u else i]
           for e, (i, j) in enumerate(graph.edges) if u in (i, j))
       for u in range(graph.num_nodes)] for r in range(7)])
  dense = machine.local_fields(z)
  monkeypatch.setattr(bm_lib, 'DENSE_MAX_UNITS', 0)
  gathered = BoltzmannMachine(graph, b, w).local_fields(z)
  np.testing.assert_allclose(dense, expected, atol=1e-5)
  np.testing.assert_allclose(gathered, expected, atol=1e-5)


def test_units_in_any_order(rng):
  """A graph whose units are not laid out by colour (as `from_bqm` builds)
  samples and scores like the same graph laid out by colour."""
  graph = graphs.Graph(range(8), [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5),
                                  (5, 6), (6, 7), (7, 0), (0, 4)])
  assert not graph.is_colour_sorted()
  machine, b, w = random_machine(graph, rng, scale=0.5)
  log_z, states, probs = brute_force(graph, b, w)
  np.testing.assert_allclose(machine.log_normalizer(), log_z, rtol=1e-6)
  z = machine.sample(20000, seed=(1, 2), num_gibbs_sweeps=20).numpy()
  np.testing.assert_allclose(z.mean(0), probs @ states, atol=0.02)


def test_ais_matches_exact_log_z_on_chimera(rng):
  graph = graphs.parse_graph('chimera:2')  # 32 units, 16 enumerated
  assert graph.num_nodes >= 32
  machine, _, _ = random_machine(graph, rng, scale=0.5)
  exact = float(machine.log_normalizer())
  estimate, stderr = ais_log_normalizer(machine, num_chains=512,
                                        num_temperatures=300, seed=(5, 6))
  assert 0. < float(stderr) < 0.05
  assert abs(float(estimate) - exact) < 4 * float(stderr) + 0.01


def test_ais_of_an_rbm_matches_its_exact_log_z(rng):
  rbm = RBM(rng.normal(0, .5, 6).astype(np.float32),
            rng.normal(0, .5, 9).astype(np.float32),
            rng.normal(0, .5, (6, 9)).astype(np.float32))
  estimate, stderr = ais_log_normalizer(rbm, 512, 300, seed=(1, 2))
  assert abs(float(estimate) - float(rbm.log_normalizer())) < (
      4 * float(stderr) + 0.01)


def test_rbm_is_the_complete_bipartite_machine(rng):
  """The RBM and the generic machine on K_{n1,n2} agree on every quantity."""
  a1, a2 = rng.normal(size=4), rng.normal(size=6)
  w = rng.normal(size=(4, 6))
  rbm = RBM(a1, a2, w)
  machine = BoltzmannMachine(graphs.complete_bipartite(4, 6),
                             np.concatenate([a1, a2]), w.reshape(-1))
  z = (rng.random((9, 10)) < 0.5).astype(np.float64)
  np.testing.assert_allclose(rbm.energy(z), machine.energy(z), rtol=1e-12)
  np.testing.assert_allclose(rbm.local_fields(z), machine.local_fields(z),
                             rtol=1e-12)
  np.testing.assert_allclose(rbm.log_normalizer(), machine.log_normalizer(),
                             rtol=1e-12)
  mask = (rng.random(24) < 0.5).astype(np.float32)
  np.testing.assert_allclose(rbm.pair_sum(z, z[::-1], mask),
                             machine.pair_sum(z, z[::-1], mask), rtol=1e-12)


def test_behaves_like_a_tfp_distribution(rng):
  graph = FAMILY_GRAPHS['zephyr_t1']()
  machine, _, _ = random_machine(graph, rng, batch=(2,))
  assert machine.event_shape == [graph.num_nodes]
  assert machine.sample(5, seed=(1, 2)).shape == [5, 2, graph.num_nodes]
  np.testing.assert_array_equal(machine.sample(5, seed=(1, 2)),
                                machine.sample(5, seed=(1, 2)))
  z = machine.sample(3, seed=(1, 2))
  independent = tfd.Independent(machine, reinterpreted_batch_ndims=1)
  np.testing.assert_allclose(independent.log_prob(z),
                             tf.reduce_sum(machine.log_prob(z), -1), rtol=1e-6)

  @tf.function(jit_compile=True)
  def score(m, z):
    return m.unnormalized_log_prob(z)

  np.testing.assert_allclose(score(machine, z),
                             machine.unnormalized_log_prob(z), rtol=1e-6)
  np.testing.assert_allclose(machine[1].log_normalizer(),
                             machine.log_normalizer()[1], rtol=1e-6)


def test_too_large_for_exact_log_z_points_to_ais(rng):
  machine, _, _ = random_machine(graphs.parse_graph('chimera:4'), rng)
  with pytest.raises(ValueError, match='2\\^64 states.*ais_log_normalizer'):
    machine.log_normalizer()


def test_persistent_chains_advance_a_machine(rng):
  graph = FAMILY_GRAPHS['chimera']()
  machine, _, _ = random_machine(graph, rng)
  chains = PersistentChains(8, graph.num_nodes)
  z = chains.advance(machine, 3, (1, 2))
  np.testing.assert_array_equal(chains.state.numpy(), z)
  np.testing.assert_array_equal(
      z, machine.block_gibbs(PersistentChains(8, graph.num_nodes).state, 3,
                             (1, 2)))


# Graphs: families, colourings, records, bad input.


@pytest.mark.parametrize('spec, nodes, colours', [
    ('chimera:3', 72, 2), ('pegasus:2', 40, 4), ('zephyr:1', 48, 4),
    ('bipartite:3,4', 7, 2)])
def test_families_are_properly_coloured_and_laid_out(spec, nodes, colours):
  graph = graphs.parse_graph(spec)
  assert (graph.num_nodes, graph.num_colours) == (nodes, colours)
  assert graph.is_colour_sorted()
  c = graph.colours
  assert not np.any(c[graph.edges[:, 0]] == c[graph.edges[:, 1]])


def test_graph_record_round_trips():
  graph = graphs.parse_graph('pegasus:2')
  again = graphs.graph_from_dict(graph.to_dict())
  assert again == graph
  assert again.labels == graph.labels


def test_group_layout_follows_the_colour_classes():
  pegasus = graphs.parse_graph('pegasus:2')  # 4 classes of 10
  assert pegasus.group_sizes(1) == [40]
  assert pegasus.group_sizes(2) == [20, 20]
  assert pegasus.group_sizes(4) == [10] * 4
  assert graphs.complete_bipartite(4, 4).group_sizes(4) == [2] * 4
  with pytest.raises(ValueError, match='3 colour classes.*cannot form 2 '
                     'posterior groups'):
    edge_list_graph().group_sizes(2)


@pytest.mark.parametrize('make, message', [
    (lambda: graphs.parse_graph('hexagonal:3'),
     "unknown graph family 'hexagonal'"),
    (lambda: graphs.parse_graph('chimera:x'), 'must be integers'),
    (lambda: graphs.parse_graph('chimera'), 'give the size'),
    (lambda: graphs.Graph(range(3), [(0, 1), (1, 2)], [0, 0, 1]),
     'colouring is not proper: nodes 0 and 1'),
    (lambda: graphs.Graph(range(2), [(0, 0)]), 'self-loops'),
    (lambda: graphs.graph_from_dict({'edges': 5}), 'list of node pairs'),
    (lambda: graphs.parse_graph('/nonexistent/graph.json'),
     'cannot read graph file'),
    (lambda: BoltzmannMachine(graphs.parse_graph('chimera:1'), tf.zeros([7]),
                              tf.zeros([16])), 'biases.*\\[..., 8\\]'),
])
def test_bad_graphs_get_one_clear_line(make, message):
  with pytest.raises(ValueError, match=message) as error:
    make()
  assert '\n' not in str(error.value)


def test_graph_file_is_read_and_coloured_greedily(tmp_path):
  path = tmp_path / 'graph.json'
  path.write_text('{"edges": [[1, 2], [2, 3], [3, 1]]}')
  graph = graphs.parse_graph(str(path))
  assert graph.num_colours == 3 and graph.num_nodes == 3
  (tmp_path / 'bad.json').write_text('{"edges": [[1, 2]], "colours": '
                                     '{"1": 0, "2": 0}}')
  with pytest.raises(ValueError, match='not proper'):
    graphs.parse_graph(str(tmp_path / 'bad.json'))
