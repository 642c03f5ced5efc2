"""Training: exact resume after interruption, the NaN guard, the binaries."""

import dataclasses
import glob
import hashlib
import json
import os
import shutil
import signal
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from dvae_tf import data
from dvae_tf.math import latents
from dvae_tf import models
from dvae_tf import schedules
from dvae_tf import run_directory
from dvae_tf import training
from dvae_tf.training import hooks as training_hooks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = models.ModelConfig(struct='2-layer-lin', prior='rbm', units_per_group=8,
                           num_chains=16, num_gibbs_sweeps=2)
# A graph step, also in the child processes that import it.
TRAIN = training.TrainConfig(dataset='sample', num_steps=60, batch_size=20,
                             checkpoint_every=10, log_every=5, image_every=0,
                             log_z_every=25, jit_compile=False)
SCRIPT = f"""
import sys
sys.path.insert(0, {REPO!r})
from tests.test_training import MODEL, TRAIN
from dvae_tf import run_directory
from dvae_tf import training
training.train(MODEL, TRAIN, sys.argv[1], verbose=False)
"""


# What the `server` fixture's process imports before it forks a child
# (tests/conftest.py): TensorFlow and the library, nothing of the binaries.
FORKED_IMPORTS = ('tensorflow', 'tensorflow_probability', 'dvae_tf.training')


def final_weights(run_dir):
  run = run_directory.restore_model(run_dir)
  model, step = run.model, run.step
  return step, [v.numpy() for v in model.weights]


def run_and_interrupt(server, run_dir, sig):
  """Starts training in a subprocess and sends `sig` once a checkpoint exists."""
  proc = server.start(['-c', SCRIPT, run_dir])
  # Wait for the checkpoint state file to name a checkpoint: the index file
  # alone can exist before the manager has recorded the save.
  checkpoints = os.path.join(run_dir, 'checkpoints')
  deadline = time.time() + 120
  while tf.train.latest_checkpoint(checkpoints) is None:
    assert proc.poll() is None, ''.join(proc.output())[-2000:]
    assert time.time() < deadline
    time.sleep(0.02)
  proc.send_signal(sig)
  proc.wait(timeout=120)
  return tf.train.latest_checkpoint(checkpoints)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  run_dir = str(tmp_path_factory.mktemp('uninterrupted'))
  result = training.train(MODEL, TRAIN, run_dir, verbose=False)
  assert result['step'] == TRAIN.num_steps
  return final_weights(run_dir)


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGKILL])
def test_interrupted_run_resumes_exactly(server, tmp_path, uninterrupted, sig):
  run_dir = str(tmp_path)
  latest = run_and_interrupt(server, run_dir, sig)
  saved_step = int(latest.rsplit('-', 1)[1])
  assert 10 <= saved_step < TRAIN.num_steps
  if sig == signal.SIGTERM:
    # A graceful stop checkpoints the step it stopped at, not an older one.
    assert saved_step % TRAIN.checkpoint_every != 0 or saved_step > 10
  result = training.train(MODEL, TRAIN, run_dir, verbose=False)
  assert result['step'] == TRAIN.num_steps
  step, weights = final_weights(run_dir)
  assert step == TRAIN.num_steps
  # The checkpoints from before the stop are deleted like any others.
  kept = glob.glob(os.path.join(run_dir, 'checkpoints', 'ckpt-*.index'))
  assert len(kept) == run_directory.KEPT_CHECKPOINTS, sorted(kept)
  for resumed, reference in zip(weights, uninterrupted[1]):
    np.testing.assert_allclose(resumed, reference, rtol=1e-5, atol=1e-6)


def test_resume_with_other_flags_is_refused(tmp_path):
  short = training.TrainConfig(dataset='sample', num_steps=2, batch_size=20,
                               image_every=0, log_z_every=0)
  training.train(MODEL, short, str(tmp_path), verbose=False)
  other = training.TrainConfig(dataset='sample', num_steps=2, batch_size=10,
                               image_every=0, log_z_every=0)
  with pytest.raises(ValueError, match='train.batch_size'):
    training.train(MODEL, other, str(tmp_path), verbose=False)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
  real = schedules.kl_weight
  monkeypatch.setattr(
      schedules, 'kl_weight',
      lambda step, warmup: tf.where(step >= 25, np.nan, real(step, warmup)))
  with pytest.raises(training.TrainingDivergedError, match='step 26'):
    training.train(MODEL, TRAIN, str(tmp_path), verbose=False)
  latest = tf.train.latest_checkpoint(os.path.join(tmp_path, 'checkpoints'))
  assert latest.endswith('ckpt-20')
  monkeypatch.setattr(schedules, 'kl_weight', real)
  _, weights = final_weights(str(tmp_path))
  assert all(np.all(np.isfinite(w)) for w in weights)


# test_training's tiny run, cut to two checkpoints and no log Z refreshes.
SHORT = dataclasses.replace(TRAIN, num_steps=20, log_z_every=0)


class _StepsSeen(keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.steps = []

  def on_train_batch_end(self, batch, logs=None):
    self.steps.append(batch)


@pytest.mark.parametrize('steps_per_execution', [1, 7, None])
def test_steps_per_execution_leaves_the_run_unchanged(
    tmp_path, uninterrupted, steps_per_execution):
  """Several steps a call (a `tf.while_loop`) give bitwise the weights of
  one step a call, the hooks still act at their steps (a checkpoint every
  10, log Z at 25), and a user's callbacks see each call's last step."""
  seen = _StepsSeen()
  run_dir = str(tmp_path)
  training.train(MODEL, TRAIN, run_dir, verbose=False, callbacks=[seen],
                 steps_per_execution=steps_per_execution)
  step, weights = final_weights(run_dir)
  assert step == TRAIN.num_steps
  for got, reference in zip(weights, uninterrupted[1]):
    np.testing.assert_array_equal(got, reference)
  assert seen.steps == sorted(set(seen.steps)) and seen.steps[-1] == 60
  # Every multiple of log_every (5), checkpoint_every (10), log_z_every (25).
  assert set(range(5, 61, 5)) | {25, 50} <= set(seen.steps)
  if steps_per_execution == 1:
    assert seen.steps == list(range(1, 61))
  elif steps_per_execution == 7:
    assert len(seen.steps) == 12  # A call stops at each multiple of 5.


def test_steps_per_execution_must_be_a_positive_integer(tmp_path):
  with pytest.raises(ValueError, match='steps_per_execution must be a '
                     'positive integer or None'):
    training.train(MODEL, SHORT, str(tmp_path), verbose=False,
                   steps_per_execution=0)


def _checkpoint_files(run_dir):
  return sorted(f for f in os.listdir(os.path.join(run_dir, 'checkpoints'))
                if f.startswith('ckpt-'))


def _all_finite(run_dir):
  reader = tf.train.load_checkpoint(
      tf.train.latest_checkpoint(os.path.join(run_dir, 'checkpoints')))
  return all(np.all(np.isfinite(reader.get_tensor(name)))
             for name, dtype in reader.get_variable_to_dtype_map().items()
             if dtype.is_floating)


def test_an_overflowed_optimizer_slot_is_never_saved(tmp_path, monkeypatch):
  """A KL weight of 1e25 at the checkpoint step: the loss stays finite but
  Adam's second moment overflows; the run stops there, keeps only finite
  checkpoints, names the last one, and resumes from it."""
  real = schedules.kl_weight
  monkeypatch.setattr(
      schedules, 'kl_weight',
      lambda step, warmup: tf.where(step == 9 + 10, 1e25, real(step, warmup)))
  run_dir = str(tmp_path)
  with pytest.raises(training.TrainingDivergedError) as error:
    training.train(MODEL, SHORT, run_dir, verbose=False)
  message = str(error.value)
  assert 'The update left NaN or infinite values in' in message
  assert 'optimizer' in message and 'at step 20' in message
  assert 'The last good checkpoint is' in message and message.count(
      'ckpt-10') == 1
  assert not any(f.startswith('ckpt-20') for f in _checkpoint_files(run_dir))
  monkeypatch.setattr(schedules, 'kl_weight', real)
  assert training.train(MODEL, SHORT, run_dir, verbose=False)['step'] == 20
  assert _all_finite(run_dir)


def test_a_non_finite_checkpoint_on_disk_is_set_aside(tmp_path):
  """One written by an older version: refused by evaluation with the
  fallback named, quarantined by training, which resumes before it."""
  run_dir = str(tmp_path)
  training.train(MODEL, SHORT, run_dir, verbose=False)
  prefix = os.path.join(run_dir, 'checkpoints', 'ckpt-20')
  model, optimizer = run_directory.build_model_and_optimizer(
      MODEL, SHORT, None, tf.distribute.get_strategy(), run_dir)
  checkpoint = run_directory.make_checkpoint(model, optimizer)
  checkpoint.restore(prefix)
  slot = optimizer.variables[-1]  # An Adam slot.
  slot.assign(tf.fill(slot.shape, np.inf))
  checkpoint.write(prefix)
  with pytest.raises(ValueError, match=r'ckpt-20 cannot be read \(.*NaN or '
                     r'infinite.*--checkpoint=ckpt-10'):
    run_directory.restore_model(run_dir)
  assert training.train(MODEL, SHORT, run_dir, verbose=False)['step'] == 20
  assert any(f.endswith('.corrupt') for f in _checkpoint_files(run_dir))
  assert _all_finite(run_dir)


def test_a_batch_out_of_range_stops_training(tmp_path, monkeypatch):
  """One batch scaled by 1e30 (finite loss, impossible bound) at step 15."""
  real = data.make_dataset

  def damaged(*args, **kwargs):
    return real(*args, **kwargs).enumerate().map(
        lambda i, x: tf.where(i == 14, x * 1e30, x))

  monkeypatch.setattr(data, 'make_dataset', damaged)
  run_dir = str(tmp_path)
  with pytest.raises(training.TrainingDivergedError,
                     match=r'pixel values outside the dataset\'s range.* at '
                           r'step 15.*last good checkpoint is \S*ckpt-10\.'):
    training.train(MODEL, SHORT, run_dir, verbose=False)
  monkeypatch.setattr(data, 'make_dataset', real)
  assert training.train(MODEL, SHORT, run_dir, verbose=False)['step'] == 20


def test_a_positive_bound_on_binary_pixels_stops_training(tmp_path,
                                                          monkeypatch):
  """log p(x) <= 0 for binary pixels: a bound above 0 is a divergence."""
  real = models.FeedForwardDVAE.elbo

  def inflated(self, *args, **kwargs):
    terms = dict(real(self, *args, **kwargs))
    terms['log_likelihood'] = terms['log_likelihood'] + 1e4
    return terms

  monkeypatch.setattr(models.FeedForwardDVAE, 'elbo', inflated)
  with pytest.raises(training.TrainingDivergedError,
                     match=r'The bound rose to .* above 0.* at step 1; .*No '
                           r'checkpoint was saved yet'):
    training.train(MODEL, SHORT, str(tmp_path), verbose=False)


def test_binaries_train_evaluate_sample(server, tmp_path):
  """bin/train.py, evaluate.py and sample.py on one run, in turn. Its step
  is a graph: the demo's default, XLA, is tests/test_binaries.py's."""
  def _run_bin(name, *args):
    return server.run([name, *args])

  run_dir = str(tmp_path / 'demo')
  out = _run_bin('train.py', '--preset=demo', f'--run_dir={run_dir}',
                 '--num_steps=20', '--checkpoint_every=10', '--image_every=10',
                 '--nojit_compile')
  assert out.returncode == 0, out.stderr[-3000:]
  out = _run_bin('evaluate.py', f'--run_dir={run_dir}',
                 '--num_importance_samples=5', '--max_images=20',
                 '--ais_chains=16', '--ais_temperatures=20')
  assert out.returncode == 0, out.stderr[-3000:]
  result = json.loads(out.stdout.strip().splitlines()[-1])
  assert {'nll', 'stderr', 'log_z', 'log_z_method',
          'num_importance_samples'} <= set(result)
  assert result['log_z_method'].startswith('ais') and result['nll'] > 0
  with open(os.path.join(run_dir, 'eval_test.json')) as f:
    record = json.loads(f.read())
  # The file is the printed result plus the checksum of its per-image NLLs.
  checksum = record.pop('nll_sha256')
  assert record == result
  per_image = np.load(os.path.join(run_dir, 'eval_test_nll.npy'))
  assert per_image.shape == (20,)
  assert checksum == hashlib.sha256(
      np.ascontiguousarray(per_image, '<f8').tobytes()).hexdigest()
  np.testing.assert_allclose(per_image.mean(), result['nll'], rtol=1e-12)
  # Paired against itself (same seed, same images): exactly no difference.
  out = _run_bin('evaluate.py', f'--run_dir={run_dir}',
                 '--num_importance_samples=5', '--max_images=20',
                 '--ais_chains=16', '--ais_temperatures=20',
                 f'--compare_with={run_dir}')
  assert out.returncode == 0, out.stderr[-3000:]
  paired = json.loads(out.stdout.strip().splitlines()[-1])['paired_difference']
  assert paired['difference'] == 0. and paired['num_images'] == 20
  # Another k than the baseline's: refused before evaluating, one line.
  out = _run_bin('evaluate.py', f'--run_dir={run_dir}',
                 '--num_importance_samples=6', '--max_images=20',
                 f'--compare_with={run_dir}')
  assert out.returncode == 1 and 'Traceback' not in out.stderr
  assert 'num_importance_samples=5, this run asks for 6' in out.stderr
  png = str(tmp_path / 'samples.png')
  out = _run_bin('sample.py', f'--run_dir={run_dir}', f'--output={png}',
                 '--num_samples=9')
  assert out.returncode == 0, out.stderr[-3000:]
  image = tf.io.decode_png(tf.io.read_file(png))
  assert image.shape[0] > 28 * 3


def test_trained_model_restores_without_its_data(tmp_path, monkeypatch):
  """The training mean is kept with the run: no --data_dir needed later."""
  def offline(*args, **kwargs):
    raise Exception('URL fetch failure: no internet')
  monkeypatch.setattr(keras.utils, 'get_file', offline)
  data_dir = tmp_path / 'data'
  data_dir.mkdir()
  rng = np.random.default_rng(0)
  # 50,000 training images and 10 for validation: every split non-empty.
  np.savez(data_dir / 'mnist.npz',
           x_train=rng.integers(0, 256, [50_010, 28, 28], dtype=np.uint8),
           y_train=np.zeros(50_010, np.uint8),
           x_test=rng.integers(0, 256, [10, 28, 28], dtype=np.uint8),
           y_test=np.zeros(10, np.uint8))
  run_dir = str(tmp_path / 'run')
  config = training.TrainConfig(dataset='mnist_dynamic', num_steps=2,
                                batch_size=10, checkpoint_every=2,
                                image_every=0, log_z_every=0)
  training.train(MODEL, config, run_dir, data_dir=str(data_dir),
                 verbose=False)
  trained = run_directory.restore_model(run_dir, str(data_dir)).model
  expected_mean = data.train_mean('mnist_dynamic', str(data_dir))
  os.remove(data_dir / 'mnist.npz')
  run = run_directory.restore_model(run_dir)
  restored, step = run.model, run.step
  assert step == 2
  mean = np.load(os.path.join(run_dir, run_directory.TRAIN_MEAN_FILE))
  np.testing.assert_array_equal(mean, expected_mean)
  for a, b in zip(restored.weights, trained.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


MIRRORED_SCRIPT = f"""
import sys
sys.path.insert(0, {REPO!r})
import tensorflow as tf
cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tests.test_training import MODEL
from dvae_tf import run_directory
from dvae_tf import training
config = training.TrainConfig(dataset='sample', num_steps=6, batch_size=20,
                              checkpoint_every=3, image_every=3, log_z_every=3)
strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
result = training.train(MODEL, config, sys.argv[1], strategy=strategy,
                        verbose=False)
assert result['step'] == 6, result
"""


def test_mirrored_strategy_on_two_devices(server, tmp_path):
  """Two replicas (logical CPUs standing in for GPUs) train and checkpoint."""
  out = server.run(['-c', MIRRORED_SCRIPT, str(tmp_path)])
  assert out.returncode == 0, out.stderr[-3000:]
  step, weights = final_weights(str(tmp_path))
  assert step == 6
  assert all(np.all(np.isfinite(w)) for w in weights)


def test_checkpoint_keeps_batch_norm_statistics(tmp_path):
  """Every weight, moving statistics included, survives save and restore."""
  config = models.ModelConfig(struct='1-layer-nonlin', prior='rbm',
                              batch_norm=True, units_per_group=8,
                              hidden_units=16, num_chains=16,
                              num_gibbs_sweeps=2)
  train_config = training.TrainConfig(dataset='sample', num_steps=5,
                                      batch_size=20, image_every=0,
                                      log_z_every=0)
  training.train(config, train_config, str(tmp_path), verbose=False)
  model = run_directory.restore_model(str(tmp_path)).model
  moving = [v.numpy() for v in model.non_trainable_variables
            if 'moving_variance' in v.path]
  assert moving and not any(np.allclose(v, 1.) for v in moving)
  x = tf.zeros([2, 28, 28, 1])
  reloaded = run_directory.restore_model(str(tmp_path)).model
  np.testing.assert_allclose(reloaded.reconstruct(x), model.reconstruct(x))


def test_reference_bound_is_the_mean_image_models_log_likelihood(rng):
  """sum m log m + (1 - m) log(1 - m) = E_x[log Bernoulli(x; m)], x ~ m."""
  mean = rng.uniform(0.01, 0.99, size=(3, 3, 1))
  x = (rng.uniform(size=(200_000, 3, 3, 1)) < mean).astype(np.float64)
  monte_carlo = np.sum(x * np.log(mean) + (1 - x) * np.log1p(-mean),
                       axis=(1, 2, 3))
  np.testing.assert_allclose(training.reference_bound(mean, binary=True),
                             monte_carlo.mean(),
                             atol=4 * monte_carlo.std() / np.sqrt(len(x)))
  assert training.reference_bound(np.zeros([2, 2, 3]), binary=False) == (
      -12 * np.log(256.))


def test_a_collapsing_bound_stops_training(tmp_path):
  """A learning rate of 1e3 drives the bound to -1e5 without a NaN."""
  huge = training.TrainConfig(dataset='sample', num_steps=200, batch_size=20,
                              learning_rate=1e3, checkpoint_every=10,
                              image_every=0, log_z_every=0)
  with pytest.raises(training.TrainingDivergedError,
                     match=r'The bound collapsed to .* below 10 times that '
                           r'of the mean image'):
    training.train(MODEL, huge, str(tmp_path), verbose=False)
  # Every checkpoint kept is from before the collapse.
  latest = tf.train.latest_checkpoint(os.path.join(tmp_path, 'checkpoints'))
  if latest:
    model = run_directory.restore_model(str(tmp_path)).model
    assert all(np.all(np.isfinite(w.numpy())) for w in model.weights)


class _StubRun:
  """What `DivergenceGuard` reads of a `TrainingRun`."""

  def __init__(self, **intervals):
    self.cfg = training.TrainConfig(dataset='sample', num_steps=1000,
                                    **intervals)
    self.step, self.last = 0, False

  def diverged(self, what):
    return training.TrainingDivergedError(f'{what} at step {self.step}')


@pytest.mark.parametrize('dips, stops_at', [
    # One batch below the collapse level, as Table 3's OMNIGLOT runs at
    # step 123: training goes on.
    ({123}, None),
    # Below it for COLLAPSE_STEPS consecutive steps: stops at the last.
    (set(range(130, 130 + training.COLLAPSE_STEPS)),
     129 + training.COLLAPSE_STEPS),
    # One step short of that, or interrupted by a step above it: goes on.
    (set(range(130, 129 + training.COLLAPSE_STEPS)), None),
    (set(range(130, 140)) | set(range(141, 150)), None),
    # Below it where a checkpoint may be saved: stops there.
    ({499, 500}, 500),
    ({700}, 700),          # validate_every
    ({1000}, 1000),        # the last step
])
def test_one_batch_below_the_collapse_level_does_not_stop_training(
    dips, stops_at):
  """The guard's collapse streak, step by step, on bounds at the collapse
  level's 2x (a dip) or 0.5x."""
  run = _StubRun(checkpoint_every=500, validate_every=700)
  guard = training_hooks.DivergenceGuard(run, np.full([2, 2, 1], 0.3),
                                         binary=True)
  stopped = None
  for step in range(1, 1001):
    run.step, run.last = step, step == 1000
    logs = {'loss': 1., 'nonfinite': False, 'bad_batch': False,
            'bound': guard.collapse * (2. if step in dips else 0.5)}
    try:
      guard.on_train_batch_end(step, logs)
    except training.TrainingDivergedError as e:
      assert 'The bound collapsed' in str(e)
      stopped = step
      break
  assert stopped == stops_at


def test_optimizer_settings_change_on_resume_only_when_asked(tmp_path):
  short = training.TrainConfig(dataset='sample', num_steps=2, batch_size=20,
                               image_every=0, log_z_every=0)
  run_dir = str(tmp_path)
  training.train(MODEL, short, run_dir, verbose=False)
  lower = dataclasses.replace(short, learning_rate=1e-3)
  with pytest.raises(ValueError, match='add --change_optimizer_settings'):
    training.train(MODEL, lower, run_dir, verbose=False)
  # Other changes are refused even then.
  longer = dataclasses.replace(lower, num_steps=4)
  with pytest.raises(ValueError, match='train.num_steps'):
    training.train(MODEL, longer, run_dir, verbose=False,
                   change_optimizer=True)
  training.train(MODEL, lower, run_dir, verbose=False,
                 change_optimizer=True)
  with open(os.path.join(run_dir, 'config.json')) as f:
    record = json.load(f)
  assert record['train']['learning_rate'] == 1e-3
  assert record['resumed'] == [
      {'changed': {'train.learning_rate': [short.learning_rate, 1e-3]}}]
  assert run_directory.load_run_config(run_dir)[1] == lower


def test_resume_says_where_it_resumes_and_bound_uses_fresh_log_z(
    tmp_path, capsys):
  short = training.TrainConfig(dataset='sample', num_steps=3, batch_size=20,
                               checkpoint_every=2, image_every=0,
                               log_z_every=0)
  run_dir = str(tmp_path)
  training.train(MODEL, dataclasses.replace(short, num_steps=2), run_dir,
                 verbose=False)
  record = json.load(open(os.path.join(run_dir, 'config.json')))
  record['train']['num_steps'] = 3
  json.dump(record, open(os.path.join(run_dir, 'config.json'), 'w'))
  os.remove(os.path.join(run_dir, run_directory.CONFIG_CHECKSUM_FILE))
  result = training.train(MODEL, short, run_dir, verbose=True)
  err = capsys.readouterr().err
  assert 'Resuming from step 2 (' in err and 'ckpt-2' in err
  # The last checkpoint holds the log Z refreshed at the end (exact for 16
  # units), which the reported bound uses.
  model = run_directory.restore_model(run_dir).model
  np.testing.assert_allclose(model.prior.log_z,
                             float(model.prior.rbm().log_normalizer()),
                             rtol=1e-6)
  assert model.prior.log_z != 16 * np.log(2.)  # Not the initial value.
  assert np.isfinite(result['bound'])


def test_validation_keeps_the_best_checkpoint(tmp_path):
  """validate_every scores the validation split; 'best' restores the step
  with the lowest NLL, as best.json records it."""
  config = training.TrainConfig(dataset='sample', num_steps=6, batch_size=20,
                                checkpoint_every=2, image_every=0,
                                log_z_every=0, validate_every=2,
                                validation_samples=3, validation_images=30)
  run_dir = str(tmp_path)
  training.train(MODEL, config, run_dir, verbose=False)
  record = run_directory.read_best(run_dir)
  assert record['step'] in (2, 4, 6) and record['num_images'] == 30
  best = run_directory.restore_model(run_dir, checkpoint='best')
  assert best.step == record['step']
  # Its score is the validation score of that checkpoint, recomputed.
  images = data.load_images('sample', 'validation')[:30]
  nll, _ = training_hooks.validation_score(best.model, images, 3, config.seed,
                                       record['step'])
  assert nll == pytest.approx(record['nll'], rel=1e-5)
  shutil.copytree(run_dir, run_dir + '_copy')
  shutil.rmtree(os.path.join(run_dir + '_copy', 'checkpoints', 'best'))
  with pytest.raises(FileNotFoundError, match='--validate_every'):
    run_directory.restore_model(run_dir + '_copy', checkpoint='best')


def test_constant_schedule_and_centered_latents():
  constant = schedules.LEARNING_RATE_SCHEDULES['constant'](5e-4, 100)
  assert float(constant(0)) == float(constant(99)) == pytest.approx(5e-4)
  z = tf.constant([[0., 1., 0.5]])
  np.testing.assert_array_equal(latents.network_input([z], True),
                                [[-1., 1., 0.]])
  np.testing.assert_array_equal(latents.network_input([z, z], False),
                                [[0., 1., .5, 0., 1., .5]])
  with pytest.raises(ValueError, match='learning_rate_schedule'):
    training.TrainConfig(learning_rate_schedule='cosine')


@pytest.mark.parametrize('mode', ['eager', 'graph', 'xla'])
def test_any_nonfinite_flags_nan_and_both_infinities_only(mode):
  """`step.any_nonfinite` against NumPy's isfinite, on variables of two
  dtypes, with finite values large enough to overflow a careless sum."""
  from dvae_tf.training import step as step_lib
  big32 = np.finfo(np.float32).max
  cases = [
      ([np.full(4, big32, np.float32), np.array([1e300, -1e300])], 0.),
      ([np.zeros(3, np.float32), np.array([1., np.nan])], 1.),
      ([np.array([0., np.inf], np.float32), np.zeros(2)], 1.),
      ([np.array([-np.inf], np.float32), np.ones(2)], 1.),
  ]
  for values, expected in cases:
    assert expected == float(not all(np.isfinite(v).all() for v in values))
    variables = [tf.Variable(v) for v in values]
    check = lambda: step_lib.any_nonfinite(variables)
    if mode != 'eager':
      check = tf.function(check, jit_compile=mode == 'xla')
    assert float(check()) == expected, (mode, values)
