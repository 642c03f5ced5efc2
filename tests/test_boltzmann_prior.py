"""The Boltzmann prior on a hardware graph: configs, training, restore,
SavedModel, and dimod (Ocean) interop."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from dvae_tf.evaluation import bound as evaluation
from dvae_tf import export
from dvae_tf import graphs
from dvae_tf import ocean
from dvae_tf import priors
from dvae_tf import run_directory
from dvae_tf import training
from dvae_tf.distributions import BoltzmannMachine
from dvae_tf.models import config as config_lib

dimod = pytest.importorskip('dimod')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Chimera C(1, 2): 16 units in two colour classes of 8.
CHIMERA = config_lib.ModelConfig(
    struct='2-layer-nonlin', prior='boltzmann', graph='chimera:1,2',
    hidden_units=16, num_chains=16, num_gibbs_sweeps=2)
TRAIN = training.TrainConfig(dataset='sample', num_steps=6, batch_size=20,
                             checkpoint_every=3, image_every=0, log_z_every=3)


@pytest.fixture(scope='module')
def chimera_run(tmp_path_factory):
  run_dir = str(tmp_path_factory.mktemp('chimera'))
  result = training.train(CHIMERA, TRAIN, run_dir, verbose=False)
  assert result['step'] == 6 and np.isfinite(result['bound'])
  return run_dir


def test_config_records_the_graph_and_lays_groups_by_colour():
  assert isinstance(CHIMERA.graph, dict)
  assert CHIMERA.graph['name'] == 'chimera:1,2,4'
  again = config_lib.config_from_dict(json.loads(json.dumps(
      CHIMERA.to_dict())))
  assert again == CHIMERA
  model = CHIMERA.build(np.full([28, 28, 1], .3, np.float32))
  assert model.group_sizes == [8, 8]
  assert isinstance(model.prior, priors.BoltzmannPrior)
  assert model.prior.graph == graphs.parse_graph('chimera:1,2')
  # The default graph is the paper's RBM over the structure's units.
  rbm = config_lib.ModelConfig(struct='2-layer-lin', prior='boltzmann',
                               units_per_group=4).build(
                                   np.full([28, 28, 1], .3, np.float32))
  assert isinstance(rbm.prior, priors.RBMPrior)


def test_dvaepp_global_prior_on_a_graph():
  config = config_lib.DVAEppConfig(struct='cpu', graph='zephyr:1,1',
                                   global_groups=2, num_local_groups=1)
  assert config.group_sizes == [6, 6]
  model = config.build(np.full([28, 28, 1], .3, np.float32))
  assert isinstance(model.prior, priors.BoltzmannPrior)
  assert model.prior.graph.num_colours == 4


@pytest.mark.parametrize('kwargs, message', [
    (dict(prior='factorial', graph='chimera:1'), 'applies to the priors on a '
     'graph'),
    (dict(prior='boltzmann', graph='triangle:1'), "unknown graph family "
     "'triangle'"),
    (dict(prior='boltzmann', graph='zephyr:1,1', struct='4-layer-nonlin'),
     None),
])
def test_bad_graph_settings_are_one_line(kwargs, message):
  if message is None:  # 4 colour classes, 4 groups: fine.
    config = config_lib.ModelConfig(**kwargs)
    assert config.build(np.zeros([28, 28, 1], np.float32)).group_sizes == [3] * 4
    return
  with pytest.raises(ValueError, match=message) as error:
    config_lib.ModelConfig(**kwargs)
  assert '\n' not in str(error.value)


def test_groups_that_cannot_follow_the_colours_are_refused(tmp_path):
  path = tmp_path / 'triangle.json'
  path.write_text('{"edges": [[0, 1], [1, 2], [2, 0]]}')
  config = config_lib.ModelConfig(struct='2-layer-nonlin', prior='boltzmann',
                                  graph=str(path))
  with pytest.raises(ValueError, match='3 colour classes.*cannot form 2 '
                     'posterior groups'):
    config.build(np.zeros([28, 28, 1], np.float32))


def test_train_restore_and_resume_keep_the_graph(chimera_run):
  run = run_directory.restore_model(chimera_run)
  prior = run.model.prior
  assert prior.graph == graphs.parse_graph('chimera:1,2')
  with open(os.path.join(chimera_run, 'config.json')) as f:
    recorded = json.load(f)['model']['graph']
  assert len(recorded['edges']) == prior.graph.num_edges
  # 8 units outside the largest class: log Z is exact.
  result = prior.refresh_log_normalizer()
  assert result.method == 'exact'
  assert result.value == pytest.approx(float(prior.machine().log_normalizer()))


def test_saved_model_answers_sample_and_log_likelihood(chimera_run, tmp_path):
  path = export.export(chimera_run, str(tmp_path / 'export'), ais_chains=16,
                       ais_temperatures=20)
  with open(os.path.join(path, export.METADATA_FILE)) as f:
    metadata = json.load(f)
  assert metadata['model_config']['graph']['name'] == 'chimera:1,2,4'
  loaded = tf.saved_model.load(path)
  out = loaded.signatures['sample'](num_samples=tf.constant(3),
                                    seed=tf.constant([1, 2]))
  assert out['latents'].shape == (3, 16)
  assert set(np.unique(out['latents'])) <= {0., 1.}
  images = tf.cast(tf.random.stateless_uniform([2, 28, 28, 1], (1, 2)) < .2,
                   tf.float32)
  ll = loaded.signatures['log_likelihood'](
      images=images, num_importance_samples=tf.constant(4))['log_likelihood']
  model = run_directory.restore_model(chimera_run).model
  model.prior.refresh_log_normalizer()
  np.testing.assert_allclose(
      ll, evaluation.importance_weighted_bound(
          model, images, 4, seed=export.LOG_LIKELIHOOD_SEED), rtol=1e-5)


# dimod.


def random_machine(graph, rng, scale=0.5):
  return BoltzmannMachine(
      graph, rng.normal(0, scale, graph.num_nodes).astype(np.float32),
      rng.normal(0, scale, graph.num_edges).astype(np.float32))


def test_to_bqm_energies_match_dimod(rng):
  machine = random_machine(graphs.parse_graph('pegasus:2'), rng)
  bqm = machine.to_bqm()
  assert bqm.vartype is dimod.BINARY
  assert list(bqm.variables) == list(machine.graph.labels)
  z = (rng.random((50, machine.num_units)) < 0.5).astype(np.float32)
  np.testing.assert_allclose(
      bqm.energies((z, list(machine.graph.labels))), machine.energy(z),
      rtol=1e-5, atol=1e-5)


def test_from_bqm_keeps_the_variable_order_and_energies(rng):
  labels = ['q7', 'q2', 'q9', 'q4', 'q1']
  bqm = dimod.BinaryQuadraticModel(
      {v: rng.normal() for v in labels},
      {('q7', 'q9'): rng.normal(), ('q4', 'q2'): rng.normal(),
       ('q1', 'q7'): rng.normal(), ('q9', 'q1'): rng.normal()},
      1.5, dimod.BINARY)
  machine = BoltzmannMachine.from_bqm(bqm)
  variables = list(bqm.variables)
  assert list(machine.graph.labels) == variables
  z = (rng.random((32, 5)) < 0.5).astype(np.float32)
  # E = -log p~ up to the BQM's offset, which cancels in p.
  np.testing.assert_allclose(machine.energy(z) + 1.5,
                             bqm.energies((z, variables)), rtol=1e-5,
                             atol=1e-5)
  back = machine.to_bqm()
  for v in labels:
    assert back.get_linear(v) == pytest.approx(bqm.get_linear(v), rel=1e-6)


@pytest.mark.parametrize('make, message', [
    (lambda: dimod.BinaryQuadraticModel({'a': 1.}, {}, 0., dimod.SPIN),
     'SPIN variables.*change_vartype'),
    (lambda: {'a': 1.}, 'expected a dimod.BinaryQuadraticModel'),
])
def test_bad_bqms_are_one_line(make, message):
  with pytest.raises(ValueError, match=message) as error:
    BoltzmannMachine.from_bqm(make())
  assert '\n' not in str(error.value)


def test_simulated_annealing_samples_the_machine(rng):
  """dwave-samplers' annealer ending at beta 1 reads p(z): its marginals
  against enumeration."""
  graph = graphs.parse_graph('zephyr:1,1')
  machine = random_machine(graph, rng, scale=0.8)
  sampler, kwargs = ocean.simulated_annealing()
  z = ocean.sample_machine(machine, sampler, 2000, seed=3, **kwargs).numpy()
  assert z.shape == (2000, graph.num_nodes)
  states = np.array(np.meshgrid(*[[0., 1.]] * graph.num_nodes,
                                indexing='ij')).reshape(graph.num_nodes, -1).T
  log_p = -machine.energy(states.astype(np.float32)).numpy()
  p = np.exp(log_p - log_p.max())
  p /= p.sum()
  np.testing.assert_allclose(z.mean(0), p @ states, atol=0.05)


def test_dimod_samples_decode_into_images(chimera_run, server, tmp_path):
  model = run_directory.restore_model(chimera_run).model
  sampler, kwargs = ocean.simulated_annealing()
  z = ocean.sample_machine(model.prior.machine(), sampler, 4, seed=1,
                           **kwargs)
  means = model.decode_global(z, seed=(1, 2))
  assert means.shape == (4, 28, 28, 1)
  with pytest.raises(ValueError, match='must be \\[n, 16\\]'):
    model.decode_global(tf.zeros([4, 15]), seed=(1, 2))
  output = str(tmp_path / 'sa.png')
  done = server.run(
      ['sample.py', f'--run_dir={chimera_run}', f'--output={output}',
       '--num_samples=8', '--sampler=simulated_annealing'], timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
  assert os.path.getsize(output) > 0


@pytest.mark.parametrize('graph, message', [
    ('hexagonal:3', "unknown graph family 'hexagonal'"),
    ('triangle.json', 'cannot form 2 posterior groups'),
])
def test_binary_refuses_bad_graphs_in_one_line(server, tmp_path, graph,
                                               message):
  (tmp_path / 'triangle.json').write_text('{"edges": [[0, 1], [1, 2], [2, 0]]}')
  if graph.endswith('.json'):
    graph = str(tmp_path / graph)
  done = server.run(
      ['train.py', f'--run_dir={tmp_path / "run"}', '--preset=demo',
       '--num_steps=1', '--prior=boltzmann', f'--graph={graph}'],
      timeout=300)
  assert done.returncode in (1, 2)
  lines = [l for l in done.stderr.splitlines() if l.startswith('error:')]
  assert len(lines) == 1 and message in lines[0], done.stderr[-2000:]
  assert 'Traceback' not in done.stderr


@pytest.mark.parametrize('family, values', [
    ('bipartite', [3, 5]), ('bipartite', [7]), ('chimera', [2]),
    ('chimera', [3, 2, 2]), ('pegasus', [2]), ('pegasus', [3]),
    ('zephyr', [1]), ('zephyr', [2, 2])])
def test_the_couplings_bound_holds_for_the_built_graphs(family, values):
  """`graphs.couplings_at_most`, computed from the sizes alone, against the
  edges of the graph built (exact for K_{a, b})."""
  bound = graphs.couplings_at_most(family, values)
  edges = len(graphs.GRAPH_FAMILIES[family](*values).edges)
  assert edges <= bound, (edges, bound)
  if family == 'bipartite':
    assert edges == bound
