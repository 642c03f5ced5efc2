"""The package's layout: no import cycles, no repeated code, old runs restore."""

import ast
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from dvae_tf import run_directory
from dvae_tf import training

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / 'dvae_tf'
FIXTURES = pathlib.Path(__file__).resolve().parent / 'fixtures' / 'runs_0_1'


def _module_name(path):
  parts = list(path.relative_to(ROOT).with_suffix('').parts)
  if parts[-1] == '__init__':
    parts = parts[:-1]
  return '.'.join(parts)


def import_graph():
  """{module: modules of dvae_tf it imports, at any level of its code}.

  `from a.b import c` is an edge to a.b (whose __init__ Python runs first)
  and, when that is a module, to a.b.c. Edges to a module's own parent
  packages are left out: Python runs a package's __init__ before its
  submodules, which is not a cycle.
  """
  modules = {_module_name(p): p for p in PACKAGE.rglob('*.py')}
  graph = {}
  for name, path in modules.items():
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.Import):
        targets.update(a.name for a in node.names)
      elif isinstance(node, ast.ImportFrom) and node.module and not (
          node.level):
        for alias in node.names:
          full = f'{node.module}.{alias.name}'
          targets.update((full, node.module))
    graph[name] = {t for t in targets if t in modules and t != name and
                   not name.startswith(t + '.')}
  return graph


def find_cycle(graph):
  """A list of modules forming a cycle, or None (depth-first search)."""
  state = {}

  def visit(node, stack):
    state[node] = 'open'
    for target in sorted(graph[node]):
      if state.get(target) == 'open':
        return stack[stack.index(target):] + [target]
      if target not in state:
        cycle = visit(target, stack + [target])
        if cycle:
          return cycle
    state[node] = 'done'
    return None

  for node in sorted(graph):
    if node not in state:
      cycle = visit(node, [node])
      if cycle:
        return cycle
  return None


def test_no_import_cycles():
  graph = import_graph()
  assert 'dvae_tf.models.config' in graph  # The graph sees the package.
  assert find_cycle(graph) is None, ' -> '.join(find_cycle(graph))


# The packages that may import the training package: the programs.
TRAINING_CLIENTS = ('dvae_tf.training', 'dvae_tf.binaries', 'dvae_tf.benchmarks')


def _within(module, packages):
  return any(module == p or module.startswith(p + '.') for p in packages)


def test_only_the_programs_import_the_training_package():
  """Evaluation, export and sampling restore runs through `run_directory`."""
  graph = import_graph()
  assert 'dvae_tf.training.loop' in graph
  importers = sorted(m for m, targets in graph.items()
                     if not _within(m, TRAINING_CLIENTS) and
                     any(_within(t, ('dvae_tf.training',)) for t in targets))
  assert not importers, importers


def test_the_layout_check_sees_an_import_of_training():
  graph = {'dvae_tf.export': {'dvae_tf.training'},
           'dvae_tf.binaries.train': {'dvae_tf.training.loop'}}
  importers = [m for m, targets in graph.items()
               if not _within(m, TRAINING_CLIENTS) and
               any(_within(t, ('dvae_tf.training',)) for t in targets)]
  assert importers == ['dvae_tf.export']


def test_the_cycle_finder_finds_cycles():
  assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c',
                                                              'a']
  assert find_cycle({'a': {'b', 'c'}, 'b': {'c'}, 'c': set()}) is None


def test_no_repeated_code():
  """pylint's duplicate-code check: no block of 6+ lines appears twice."""
  pytest.importorskip('pylint')
  result = subprocess.run(
      [sys.executable, '-m', 'pylint', '--disable=all',
       '--enable=duplicate-code', '--min-similarity-lines=6',
       '--ignore-imports=no', 'dvae_tf', 'bin'],
      cwd=ROOT, capture_output=True, text=True, check=False)
  assert 'rated at' in result.stdout, result.stdout + result.stderr
  assert 'duplicate-code' not in result.stdout, result.stdout


@pytest.mark.parametrize('run', ['feed_forward_rbm', 'dvaepp'])
def test_run_directories_of_version_0_1_restore(run, tmp_path):
  """Runs written before the model base and the single config module restore
  to the same weights, chains and outputs, and resume training."""
  run_dir = tmp_path / run
  shutil.copytree(FIXTURES / run, run_dir)
  expected = json.loads((run_dir / 'expected.json').read_text())
  restored = run_directory.restore_model(str(run_dir))
  assert restored.step == expected['step']
  if run == 'dvaepp':  # recorded under the field's old name, `arch`
    assert restored.model_config.struct == 'cpu'
  model = restored.model
  np.testing.assert_array_equal(model.prior.chains.state.numpy(),
                                expected['chains'])
  images = np.asarray(expected['images'], np.float32)
  np.testing.assert_allclose(model.reconstruct(tf.constant(images)),
                             expected['reconstructions'], rtol=1e-5,
                             atol=1e-5)
  z = np.asarray(expected['latents'], np.float32)
  groups = tf.split(z, model.group_sizes, axis=-1)
  np.testing.assert_allclose(model.prior.log_prob(groups),
                             expected['prior_log_prob'], rtol=1e-5)
  # Resuming accepts the old config.json (no `kind` in the feed-forward one).
  train_config = training.TrainConfig(
      **dict(restored.train_config.__dict__, num_steps=expected['step'] + 1))
  record = json.loads((run_dir / 'config.json').read_text())
  record['train']['num_steps'] = train_config.num_steps
  (run_dir / 'config.json').write_text(json.dumps(record))
  result = training.train(restored.model_config, train_config,
                          str(run_dir), verbose=False)
  assert result['step'] == expected['step'] + 1
  assert os.path.exists(run_dir / 'checkpoints' /
                        f'ckpt-{expected["step"] + 1}.index')


def entry_point_style(modules):
  """The modules of {name: source} that break the one entry-point style:
  a program is a module of dvae_tf.binaries with `main` and `run`, and no
  other module runs as a program."""
  wrong = []
  for name, source in sorted(modules.items()):
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    runs_as_program = "__name__ == '__main__'" in source
    is_binary = (name.startswith('dvae_tf.binaries.') and
                 name != 'dvae_tf.binaries.cli')
    if is_binary != runs_as_program or (
        is_binary and not {'main', 'run'} <= defined):
      wrong.append(name)
  return wrong


def test_every_program_is_a_binary_with_main_and_run():
  modules = {_module_name(p): p.read_text() for p in PACKAGE.rglob('*.py')}
  assert entry_point_style(modules) == []
  assert {'dvae_tf.binaries.measure', 'dvae_tf.binaries.make_sample',
          'dvae_tf.binaries.train'} <= set(modules)


def test_the_entry_point_check_sees_a_stray_program():
  main = "if __name__ == '__main__':\n  main()\n"
  assert entry_point_style({
      'dvae_tf.benchmarks.x': 'def main(argv): pass\n' + main,
      'dvae_tf.binaries.y': 'def main(argv): pass\n' + main,
      'dvae_tf.binaries.z': 'def main(argv): pass\ndef run(): pass\n' + main,
  }) == ['dvae_tf.benchmarks.x', 'dvae_tf.binaries.y']
