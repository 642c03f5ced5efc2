"""The training step compiled with XLA (`TrainConfig.jit_compile`): the same
objective as the graph step, deterministic, and a run may switch on resume."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from dvae_tf import cpu
from dvae_tf import run_directory
from dvae_tf import training
from tests.test_keras_native import CONFIGS
from tests.test_keras_native import STEPS
from tests.test_keras_native import _dataset
from tests.test_keras_native import _fit_model
from tests.test_keras_native import _Record
from tests.test_keras_native import _train_config


def _loop(kind, run_dir, **kw):
  record = _Record()
  cfg = _train_config(num_steps=STEPS, **kw)
  training.train(CONFIGS[kind], cfg, str(run_dir), verbose=False,
                 callbacks=[record])
  return record.logs, run_directory.restore_model(str(run_dir)).model


@pytest.fixture(scope='module')
def xla_loop(tmp_path_factory):
  """kind -> (logs, model) of `_loop` with the XLA step, run once: the
  feed-forward one is also the first run of the determinism check."""
  runs = {}

  def run(kind):
    if kind not in runs:
      runs[kind] = _loop(kind, tmp_path_factory.mktemp(f'xla_{kind}'),
                         jit_compile=True)
    return runs[kind]

  return run


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_the_xla_step_trains_the_graph_steps_objective(kind, tmp_path,
                                                       xla_loop):
  graph_logs, graph_model = _loop(kind, tmp_path / 'graph')
  xla_logs, xla_model = xla_loop(kind)
  compared = [xla_logs]
  cfg = _train_config(num_steps=STEPS, jit_compile=True)
  if kind == 'feed_forward':
    # Keras' fit compiles its step the same way when the config asks. Its
    # step is the model's for both kinds (`DiscreteVAE.train_step`), so one
    # kind checks it: DVAE++'s XLA compilation alone takes half a minute.
    fit_model = _fit_model(kind, cfg)
    assert fit_model.jit_compile
    fit_record = _Record()
    fit_model.fit(_dataset(cfg), epochs=1, steps_per_epoch=STEPS, verbose=0,
                  callbacks=[fit_record])
    compared.append(fit_record.logs)
  # The draws are the same (`dvae_tf.philox`; other draws would move
  # the loss by about 1e-3 of itself at the first step). Fused arithmetic
  # rounds differently, and the updates carry that on: the KL, a difference
  # of terms near log Z, agrees to an absolute 0.02; a weight whose gradient
  # is near 0 (the prior's biases) can take Adam's full step either way, so
  # the state agrees to twice the learning rate per step.
  for logs in compared:
    assert len(logs) == len(graph_logs) == STEPS
    for step, (a, b) in enumerate(zip(graph_logs, logs)):
      for key in ('loss', 'beta', 'kl_weight'):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, err_msg=(
            f'{key} at step {step + 1}'))
      np.testing.assert_allclose(a['kl'], b['kl'], atol=0.02,
                                 err_msg=f'kl at step {step + 1}')
  step_size = 2 * cfg.learning_rate * STEPS
  for v, w in zip(graph_model.weights, xla_model.weights):
    np.testing.assert_allclose(v.numpy(), w.numpy(), rtol=1e-2,
                               atol=step_size, err_msg=v.path)


def test_the_xla_step_is_deterministic(tmp_path, xla_loop):
  _, first = xla_loop('feed_forward')
  _, second = _loop('feed_forward', tmp_path / 'b', jit_compile=True)
  for v, w in zip(first.weights, second.weights):
    np.testing.assert_array_equal(v.numpy(), w.numpy(), err_msg=v.path)


def test_a_run_resumes_with_the_other_compilation(tmp_path):
  run_dir = str(tmp_path / 'run')
  cfg = _train_config(num_steps=2, jit_compile=False)
  training.train(CONFIGS['feed_forward'], cfg, run_dir, verbose=False)
  xla = dataclasses.replace(cfg, jit_compile=True)
  assert training.train(CONFIGS['feed_forward'], xla, run_dir,
                        verbose=False)['step'] == 2
  with open(os.path.join(run_dir, run_directory.CONFIG_FILE)) as f:
    record = json.load(f)
  assert record['train']['jit_compile']
  assert record['resumed'][-1]['changed']['train.jit_compile'] == [False, True]
  # Other changes are still refused.
  with pytest.raises(ValueError, match='train.seed'):
    training.train(CONFIGS['feed_forward'], dataclasses.replace(xla, seed=9),
                   run_dir, verbose=False)


def test_the_default_compiles_where_xla_was_measured_faster(monkeypatch):
  """XLA for the feed-forward step, graphs for Concrete's and DVAE++'s
  (reports/benchmark_presets.json), and for an RBM prior's step once its
  chains' Gibbs sweeps pass `XLA_GIBBS_MULTIPLY_ADDS` on a CPU without
  AVX-512 (Table 2's model: 500 chains of 40 sweeps, not 501); an explicit
  setting wins."""
  monkeypatch.undo()  # The suite's graph steps (conftest), for this test.
  monkeypatch.setattr(cpu, 'has_avx512', lambda: False)
  feed_forward = CONFIGS['feed_forward']
  concrete = dataclasses.replace(feed_forward, prior='factorial',
                                 smoothing='concrete', objective='marginal')
  table2 = dataclasses.replace(feed_forward, units_per_group=0,  # 100 + 100
                               num_gibbs_sweeps=40)
  default = _train_config()
  assert default.jit_compile is None
  for config, faster in (
      (feed_forward, True), (concrete, False), (CONFIGS['dvaepp'], False),
      (dataclasses.replace(table2, num_chains=500), True),
      (dataclasses.replace(table2, num_chains=501), False),
      (dataclasses.replace(table2, num_chains=1000, prior='factorial'),
       True)):
    model = _fit_model_of(config, default)
    assert model.xla_step_is_faster is faster
    assert default.compiles_with_xla(model) is faster
    for asked in (False, True):
      assert dataclasses.replace(default, jit_compile=asked).compiles_with_xla(
          model) is asked
  monkeypatch.setattr(cpu, 'has_avx512', lambda: True)
  assert _fit_model_of(dataclasses.replace(table2, num_chains=1000),
                       default).xla_step_is_faster
  with pytest.raises(ValueError, match='jit_compile must be True, False or '
                     'None'):
    training.TrainConfig(jit_compile='yes')


def _fit_model_of(config, cfg):
  model, _ = run_directory.build_model_and_optimizer(
      config, cfg, None, tf.distribute.get_strategy())
  return model
