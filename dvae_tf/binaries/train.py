"""Trains a discrete VAE; rerunning the same command resumes it.

  dvae-train --preset=demo --run_dir=runs/demo
  dvae-train --preset=repro_rbm_1_nonlin --data_dir=../data --run_dir=runs/rbm1
  dvae-train --preset=table3_dvaepp_mnist_dynamic --data_dir=../data \
      --run_dir=runs/dvaepp_mnist

Flags given explicitly override the preset; model flags of the other model
kind are refused. --model defaults to the preset's kind (feed_forward without
a preset). Every other flag is a field of `TrainConfig`, `ModelConfig` or
`DVAEppConfig`, with the field's default. Checkpoints are written every
--checkpoint_every steps and on SIGINT/SIGTERM.

Exit status: 0 when --num_steps are done; 75 when stopped by SIGINT or
SIGTERM after saving a checkpoint (rerun the same command to resume: a
scheduler should requeue); 1 for an error the message explains; 2 for flags
that do not parse.
"""

import dataclasses
import json
import sys

from absl import app
from absl import flags

from dvae_tf import binaries
from dvae_tf.binaries import cli
from dvae_tf import data
from dvae_tf import presets
from dvae_tf import training
from dvae_tf.models import config as config_lib

FLAGS = flags.FLAGS
cli.define_run_dir_flag('Where checkpoints, config and TensorBoard '
                        'summaries go (the run directory).')
flags.DEFINE_string('preset', None, f'One of {sorted(presets.PRESETS)}.')
flags.DEFINE_string('data_dir', None, 'Folder with the dataset files.')
cli.define_strategy_flags()
flags.DEFINE_enum('model', None, list(config_lib.MODEL_KINDS),
                  'Model kind (default: the preset\'s, else feed_forward).')
flags.DEFINE_bool('change_optimizer_settings', False, 'On resume, accept a '
                  'changed --learning_rate (recorded in config.json).')
for _cls in (config_lib.ModelConfig, config_lib.DVAEppConfig,
             training.TrainConfig):
  cli.define_config_flags(_cls, skip=('kind',))


# Model fields whose 0 means "the structure's (or architecture's) value": as
# flags they take a positive number, and are left out for that default.
_ZERO_IS_DEFAULT = ('units_per_group', 'hidden_units', 'channels',
                    'num_local_groups')


def _check_model_flags(kind):
  """ValueError if model flags of the other model kind were given, or a flag
  of `_ZERO_IS_DEFAULT` is not positive."""
  fields = {f.name for f in dataclasses.fields(config_lib.config_class(kind))}
  foreign = sorted(
      f.name for other in config_lib.MODEL_KINDS if other != kind
      for f in dataclasses.fields(config_lib.config_class(other))
      if f.name not in fields and f.name in FLAGS and FLAGS[f.name].present)
  if foreign:
    raise ValueError(f'--{", --".join(foreign)} do not apply to '
                     f'--model={kind}.')
  for name in _ZERO_IS_DEFAULT:
    if name in fields and FLAGS[name].present and FLAGS[name].value < 1:
      raise ValueError(f'--{name} must be a positive integer; got '
                       f'{FLAGS[name].value} (leave the flag out for the '
                       'default of the structure or architecture).')


def main(argv):
  del argv
  strategy = cli.strategy_from_flags()
  try:
    dataset = FLAGS.dataset if FLAGS['dataset'].present else None
    preset = presets.get_preset(FLAGS.preset, dataset) if FLAGS.preset else {
        'model': {}, 'train': {}}
    kind = presets.model_kind(FLAGS.preset, FLAGS.model)
    _check_model_flags(kind)
    model_config = cli.config_from_flags(config_lib.config_class(kind),
                                         preset['model'])
    train_config = cli.config_from_flags(training.TrainConfig,
                                         preset['train'])
    model_config.check_dataset(data.is_binary(train_config.dataset))
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  shown = model_config.to_dict()
  if isinstance(shown['graph'], dict):  # config.json keeps the whole graph
    shown['graph'] = shown['graph']['name']
  print(json.dumps({'model': shown,
                    'train': dataclasses.asdict(train_config)}))
  result = training.train(
      model_config, train_config, FLAGS.run_dir, data_dir=FLAGS.data_dir,
      strategy=strategy, change_optimizer=FLAGS.change_optimizer_settings)
  print(json.dumps(result))
  print(f'Checkpoints and TensorBoard logs are in {FLAGS.run_dir}.')
  if result['stopped_by'] != 'num_steps':
    print(f'Stopped by {result["stopped_by"]} at step {result["step"]}; rerun '
          'the same command to resume.', file=sys.stderr)
    sys.exit(binaries.EXIT_STOPPED)


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
