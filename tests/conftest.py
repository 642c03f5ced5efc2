"""Shared pytest set-up: quiet TensorFlow, and deterministic seeds per test."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
  """A NumPy generator with a fixed seed, so a failing draw can be replayed."""
  return np.random.default_rng(20180710)
