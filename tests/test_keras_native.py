"""The models in Keras' own terms: compile and fit train what `dvae-train`
trains, evaluate reports the bound, Keras' callbacks work, and a `.keras`
file round-trips.

`fit`'s step is the binary's step: the same `training_objective`, the same
seeds keyed by the step, the same data order, so its bound at every step
equals the one the training loop reports at equal seeds (not only within
Monte Carlo noise).
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from dvae_tf import data
from dvae_tf import run_directory
from dvae_tf import training
from dvae_tf.models import config as config_lib

STEPS = 4
CONFIGS = {
    'feed_forward': config_lib.ModelConfig(
        struct='1-layer-nonlin', prior='rbm', units_per_group=8,
        hidden_units=32, num_chains=10, num_gibbs_sweeps=2),
    # One residual block a stage (struct='caltech', not 'mnist''s two):
    # the same kinds of layers in a smaller graph to trace and, in
    # tests/test_xla_step.py, to compile with XLA.
    'dvaepp': config_lib.DVAEppConfig(struct='caltech', channels=4,
                                      num_local_groups=1, num_chains=8,
                                      num_gibbs_sweeps=1),
}


def _train_config(**kw):
  return training.TrainConfig(**dict(
      dict(dataset='sample', num_steps=40, batch_size=20, seed=5,
           log_every=1, log_z_every=2, checkpoint_every=100,
           image_every=0, validation_samples=5), **kw))


class _Record(keras.callbacks.Callback):
  """The logs of every step."""

  def __init__(self):
    super().__init__()
    self.logs = []

  def on_train_batch_end(self, batch, logs=None):
    self.logs.append(dict(logs))


def _fit_model(kind, cfg):
  model, optimizer = run_directory.build_model_and_optimizer(
      CONFIGS[kind], cfg, None, tf.distribute.get_strategy())
  model.compile(optimizer=optimizer, train_config=cfg)
  return model


def _dataset(cfg):
  return data.make_dataset(cfg.dataset, 'train', cfg.batch_size,
                           seed=cfg.seed)


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_fit_trains_the_binary_objective_step_for_step(kind, tmp_path):
  cfg = _train_config()
  loop_record = _Record()
  training.train(CONFIGS[kind], dataclasses_replace(cfg, num_steps=STEPS),
                 str(tmp_path / 'run'), verbose=False,
                 callbacks=[loop_record])
  model = _fit_model(kind, dataclasses_replace(cfg, num_steps=STEPS))
  fit_record = _Record()
  model.fit(_dataset(cfg), epochs=1, steps_per_epoch=STEPS, verbose=0,
            callbacks=[fit_record])
  assert len(loop_record.logs) == len(fit_record.logs) == STEPS
  for step, (a, b) in enumerate(zip(loop_record.logs, fit_record.logs)):
    for key in ('loss', 'kl', 'beta', 'kl_weight'):
      np.testing.assert_allclose(a[key], b[key], rtol=1e-5, err_msg=(
          f'{key} at step {step + 1}'))
    if step + 1 < STEPS:  # The loop moves the last bound to a fresh log Z.
      np.testing.assert_allclose(a['bound'], b['bound'], rtol=1e-5)
  # The persistent chains are trained state of both.
  restored = run_directory.restore_model(str(tmp_path / 'run')).model
  for v, w in zip(restored.weights, model.weights):
    np.testing.assert_allclose(v.numpy(), w.numpy(), rtol=1e-4, atol=1e-5,
                               err_msg=v.path)


def dataclasses_replace(cfg, **kw):
  import dataclasses  # pylint: disable=g-import-not-at-top
  return dataclasses.replace(cfg, **kw)


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_evaluate_saving_and_keras_callbacks(kind, tmp_path):
  cfg = _train_config()
  model = _fit_model(kind, cfg)
  images = data.load_images('sample', 'test')[:20]
  before = model.evaluate(images, batch_size=10, verbose=0, return_dict=True)
  assert set(before) == {'bound'} and -600. < before['bound'] < 0.
  callbacks = [
      keras.callbacks.TensorBoard(str(tmp_path / 'tb')),
      keras.callbacks.BackupAndRestore(str(tmp_path / 'backup')),
      keras.callbacks.ModelCheckpoint(str(tmp_path / 'last.keras')),
  ]
  model.fit(_dataset(cfg), epochs=2, steps_per_epoch=3, verbose=0,
            callbacks=callbacks)
  assert int(model.optimizer.iterations) == 6
  assert os.listdir(tmp_path / 'tb' / 'train')  # Event files.
  assert not os.path.exists(tmp_path / 'backup')  # Deleted after success.

  # The .keras file of ModelCheckpoint and one of model.save both restore
  # the model, its prior's chains and its optimizer state.
  model.save(str(tmp_path / 'm.keras'))
  for path in ('m.keras', 'last.keras'):
    loaded = keras.models.load_model(str(tmp_path / path))
    assert type(loaded) is type(model)
    assert int(loaded.optimizer.iterations) == 6
    for v, w in zip(model.weights, loaded.weights):
      np.testing.assert_array_equal(v.numpy(), w.numpy(), err_msg=v.path)
    a, _ = model.sample(6, seed=(1, 2))
    b, _ = loaded.sample(6, seed=(1, 2))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert loaded.train_config == cfg
  # And training goes on from the file.
  loaded.fit(_dataset(cfg), epochs=1, steps_per_epoch=1, verbose=0)
  assert int(loaded.optimizer.iterations) == 7


def test_backup_and_restore_resumes_an_interrupted_fit(tmp_path):
  cfg = _train_config(log_z_every=0)
  backup = keras.callbacks.BackupAndRestore(str(tmp_path / 'backup'))

  class Interrupt(keras.callbacks.Callback):

    def on_epoch_end(self, epoch, logs=None):
      if epoch == 0:
        raise KeyboardInterrupt

  model = _fit_model('feed_forward', cfg)
  with pytest.raises(KeyboardInterrupt):
    model.fit(_dataset(cfg), epochs=3, steps_per_epoch=2, verbose=0,
              callbacks=[backup, Interrupt()])
  fresh = _fit_model('feed_forward', cfg)
  fresh.fit(_dataset(cfg), epochs=3, steps_per_epoch=2, verbose=0,
            callbacks=[backup])
  # Restored after epoch 1 (2 steps), then epochs 2 and 3.
  assert int(fresh.optimizer.iterations) == 6
