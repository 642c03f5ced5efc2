"""Shared pytest set-up: quiet TensorFlow, XLA programs compiled once for the
whole suite, and deterministic seeds per test."""

import os
import shutil
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# The suite's processes (pytest's workers, the programs they fork or start)
# share the XLA programs they compile through TensorFlow's persistent cache:
# the jit-compiled kernels (Gibbs sweeps, Philox, the smoothings' inverse
# CDFs) and the XLA steps of the tests' tiny models are compiled by the first
# process that needs them and loaded by the others (what that saves:
# BUILD.md, "Test"). pytest's first process makes the folder and removes it
# at the end; the others inherit it through the environment.
XLA_CACHE_FLAG = '--tf_xla_persistent_cache_directory='
_OWN_XLA_CACHE = None
if XLA_CACHE_FLAG not in os.environ.get('TF_XLA_FLAGS', ''):
  _OWN_XLA_CACHE = tempfile.mkdtemp(prefix='dvae_tf_tests_xla_')
  os.environ['TF_XLA_FLAGS'] = ' '.join(filter(None, (
      os.environ.get('TF_XLA_FLAGS'), XLA_CACHE_FLAG + _OWN_XLA_CACHE)))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests import forked_binaries  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# The modules that take one worker longest (from about two and a half
# minutes down to half of one, on two cores), slowest first. With
# --dist=loadfile a worker runs a whole module, in the order collected: one
# of these started last would keep its worker busy long after the others ran
# out of modules.
SLOW_MODULES = ('test_faults.py', 'test_training.py', 'test_distribute.py',
                'test_dvaepp.py', 'test_memory.py', 'test_xla_step.py',
                'test_keras_native.py', 'test_boltzmann_machine.py',
                'test_export.py', 'test_client_errors.py', 'test_layout.py')


def pytest_unconfigure(config):  # pylint: disable=unused-argument
  if _OWN_XLA_CACHE is not None:
    shutil.rmtree(_OWN_XLA_CACHE, ignore_errors=True)


def pytest_collection_modifyitems(items):
  """SLOW_MODULES first, in that order, then the others as collected."""
  rank = {name: i for i, name in enumerate(SLOW_MODULES)}
  items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_MODULES)))


@pytest.fixture(scope='module')
def server(request):
  """Forks a test module's child programs (binaries, `python -c` code) from
  one process that made the module's `FORKED_IMPORTS` (default: the
  binaries' imports) (`tests.forked_binaries.Server`): each child runs as
  its own program would, without its seconds of imports."""
  imports = getattr(request.module, 'FORKED_IMPORTS',
                    forked_binaries.BINARY_IMPORTS)
  with forked_binaries.Server(REPO, imports) as forks:
    yield forks


@pytest.fixture(autouse=True)
def graph_steps_by_default(monkeypatch):
  """In-process training steps run as TensorFlow graphs unless a test asks
  for XLA (`TrainConfig(jit_compile=True)`, as tests/test_xla_step.py does):
  the default, XLA where it is faster (`TrainConfig.compiles_with_xla`),
  would compile a step in each of the suite's hundred short trainings, for
  no gain in what they check. Binaries keep the real default."""
  # pylint: disable=import-outside-toplevel
  from dvae_tf.models import base
  monkeypatch.setattr(base.DiscreteVAE, 'xla_step_is_faster', False)


@pytest.fixture
def rng():
  """A NumPy generator with a fixed seed, so a failing draw can be replayed."""
  return np.random.default_rng(20180710)
