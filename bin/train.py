"""Trains a discrete VAE; rerunning the same command resumes it.

  python bin/train.py --preset=demo --model_dir=runs/demo
  python bin/train.py --preset=repro_rbm_1_nonlin --data_dir=../data \
      --model_dir=runs/rbm1
  python bin/train.py --model=dvaepp --preset=table3_dvaepp_mnist_dynamic \
      --data_dir=../data --model_dir=runs/dvaepp_mnist

Flags given explicitly override the preset; model flags of the other model
kind are refused. --model defaults to the preset's kind (feed_forward without
a preset). Checkpoints are written every --checkpoint_every steps and on
SIGINT/SIGTERM.
"""

import dataclasses
import json

from absl import app
from absl import flags
import tensorflow as tf

from dvae_tf import cli
from dvae_tf import data
from dvae_tf import presets
from dvae_tf import pyramid
from dvae_tf import smoothing
from dvae_tf import training
from dvae_tf.models import config as config_lib
from dvae_tf.models import dvaepp_config
from dvae_tf.models import pixel_likelihoods

FLAGS = flags.FLAGS
flags.DEFINE_string('model_dir', None, 'Where checkpoints, config and '
                    'TensorBoard summaries go.', required=True)
flags.DEFINE_string('preset', None, f'One of {sorted(presets.PRESETS)}.')
flags.DEFINE_string('data_dir', None, 'Folder with the dataset files.')
flags.DEFINE_bool('multi_gpu', False, 'Train with MirroredStrategy on all GPUs.')
flags.DEFINE_enum('model', None, list(config_lib.MODEL_KINDS),
                  'Model kind (default: the preset\'s, else feed_forward).')
# Feed-forward model flags (ModelConfig fields).
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
# DVAE++ model flags (DVAEppConfig fields; also num_chains, num_gibbs_sweeps).
flags.DEFINE_enum('arch', 'mnist', sorted(dvaepp_config.ARCHITECTURES),
                  'DVAE++ architecture (widths and depths).')
flags.DEFINE_enum('latents', 'dvaepp', list(dvaepp_config.TABLE3_ROWS),
                  'Table 3 row: global prior and local latent types.')
flags.DEFINE_integer('global_groups', 2, 'Groups of the global posterior '
                     '(1, 2 or 4).')
flags.DEFINE_bool('conditional_decoder', False, 'Multi-scale decoder.')
flags.DEFINE_enum('downsampling', 'pool', list(pyramid.DOWNSAMPLINGS),
                  'Downsampling of the multi-scale decoder\'s pyramid.')
flags.DEFINE_enum('likelihood', 'bernoulli',
                  list(pixel_likelihoods.LIKELIHOODS), 'Pixel likelihood.')
flags.DEFINE_bool('kl_balancing', True, 'Balance the local groups\' KLs '
                  'during KL warm-up.')
flags.DEFINE_integer('channels', 0, 'If > 0, the width of every stage.')
flags.DEFINE_integer('num_local_groups', 0, 'If > 0, the local groups.')
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
    if field.name in FLAGS and FLAGS[field.name].present:
      values[field.name] = FLAGS[field.name].value
  return cls(**values)


def _check_model_flags(kind):
  """ValueError if model flags of the other model kind were given."""
  fields = {f.name for f in dataclasses.fields(config_lib.config_class(kind))}
  foreign = sorted(
      f.name for other in config_lib.MODEL_KINDS if other != kind
      for f in dataclasses.fields(config_lib.config_class(other))
      if f.name not in fields and f.name in FLAGS and FLAGS[f.name].present)
  if foreign:
    raise ValueError(f'--{", --".join(foreign)} do not apply to '
                     f'--model={kind}.')


def main(argv):
  del argv
  try:
    preset = presets.get_preset(FLAGS.preset) if FLAGS.preset else {
        'model': {}, 'train': {}}
    kind = presets.model_kind(FLAGS.preset, FLAGS.model)
    _check_model_flags(kind)
    model_config = _config(config_lib.config_class(kind), preset['model'])
    train_config = _config(training.TrainConfig, preset['train'])
    if isinstance(model_config, dvaepp_config.DVAEppConfig):
      model_config.check_dataset(data.is_binary(train_config.dataset))
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
  cli.run(main)
