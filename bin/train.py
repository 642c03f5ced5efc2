"""Trains a discrete VAE; rerunning the same command resumes it.

  python bin/train.py --preset=demo --model_dir=runs/demo
  python bin/train.py --preset=repro_rbm_1_nonlin --data_dir=../data \
      --model_dir=runs/rbm1

Flags given explicitly override the preset. Checkpoints are written every
--checkpoint_every steps and on SIGINT/SIGTERM.
"""

import dataclasses
import json

from absl import app
from absl import flags
import tensorflow as tf

from dvae_tf import data
from dvae_tf import presets
from dvae_tf import smoothing
from dvae_tf import training
from dvae_tf.models import config as config_lib

FLAGS = flags.FLAGS
flags.DEFINE_string('model_dir', None, 'Where checkpoints, config and '
                    'TensorBoard summaries go.', required=True)
flags.DEFINE_string('preset', None, f'One of {sorted(presets.PRESETS)}.')
flags.DEFINE_string('data_dir', None, 'Folder with the dataset files.')
flags.DEFINE_bool('multi_gpu', False, 'Train with MirroredStrategy on all GPUs.')
# Model flags (ModelConfig fields).
flags.DEFINE_enum('prior', 'factorial', list(config_lib.PRIORS), 'Prior.')
flags.DEFINE_enum('smoothing', 'exponential', sorted(smoothing.SMOOTHINGS),
                  'Smoothing transformation.')
flags.DEFINE_enum('objective', 'joint', list(config_lib.OBJECTIVES),
                  'Bound for the factorial prior: Eq. 4 or Eq. 5.')
flags.DEFINE_enum('struct', '1-layer-nonlin', sorted(config_lib.STRUCTURES),
                  'Latent groups and network depth.')
flags.DEFINE_bool('batch_norm', False, 'Batch norm in hidden layers.')
flags.DEFINE_integer('num_chains', 1000, 'Persistent chains (RBM prior).')
flags.DEFINE_integer('num_gibbs_sweeps', 40, 'Gibbs sweeps per step (RBM).')
# Training flags (TrainConfig fields).
flags.DEFINE_enum('dataset', 'sample', list(data.DATASETS), 'Dataset.')
flags.DEFINE_integer('num_steps', 100_000, 'Training steps.')
flags.DEFINE_integer('batch_size', 100, 'Global batch size.')
flags.DEFINE_float('learning_rate', 3e-3, 'Base learning rate.')
flags.DEFINE_float('beta_start', 10., 'Initial inverse temperature.')
flags.DEFINE_float('beta_end', 10., 'Final inverse temperature.')
flags.DEFINE_float('kl_anneal_fraction', 0.3, 'KL warm-up fraction.')
flags.DEFINE_float('weight_decay', 1e-4, 'Weight decay coefficient.')
flags.DEFINE_integer('num_iw_train', 1, 'Samples per example in training.')
flags.DEFINE_integer('seed', 0, 'Random seed.')
flags.DEFINE_integer('checkpoint_every', 1000, 'Steps between checkpoints.')
flags.DEFINE_integer('log_every', 100, 'Steps between TensorBoard scalars.')
flags.DEFINE_integer('image_every', 5000, 'Steps between sample grids.')
flags.DEFINE_integer('log_z_every', 5000, 'Steps between log Z refreshes.')


def _config(cls, preset_values):
  """A config from the preset, overridden by flags given explicitly."""
  values = dict(preset_values)
  for field in dataclasses.fields(cls):
    if field.name in FLAGS and (FLAGS[field.name].present or
                                field.name not in values):
      values[field.name] = FLAGS[field.name].value
  return cls(**values)


def main(argv):
  del argv
  try:
    preset = presets.get_preset(FLAGS.preset) if FLAGS.preset else {
        'model': {}, 'train': {}}
    model_config = _config(config_lib.ModelConfig, preset['model'])
    train_config = _config(training.TrainConfig, preset['train'])
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  strategy = (tf.distribute.MirroredStrategy() if FLAGS.multi_gpu
              else tf.distribute.get_strategy())
  print(json.dumps({'model': model_config.to_dict(),
                    'train': dataclasses.asdict(train_config)}))
  result = training.train(model_config, train_config, FLAGS.model_dir,
                          data_dir=FLAGS.data_dir, strategy=strategy)
  print(json.dumps(result))
  print(f'Checkpoints and TensorBoard logs are in {FLAGS.model_dir}.')


if __name__ == '__main__':
  app.run(main)
