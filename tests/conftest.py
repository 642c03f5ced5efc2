"""Shared pytest set-up: quiet TensorFlow, and deterministic seeds per test."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import pytest  # noqa: E402


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
