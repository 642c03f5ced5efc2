"""Shared pytest set-up: quiet TensorFlow, and deterministic seeds per test."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

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
