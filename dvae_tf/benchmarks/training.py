"""Where a training step's time goes, for the Table 2 RBM-prior model.

Times, interleaved in one run: the whole `tf.function` training step (input
included), the persistent-chain Gibbs sweeps alone (the PCD negative phase),
and the input pipeline alone (one batch from `tf.data`). Reported as steps
per second and as fractions of the step; the pipeline runs ahead with
prefetching, so its fraction is what it would cost if it did not overlap.
"""

import tensorflow as tf

from dvae_tf import data
from dvae_tf import presets
from dvae_tf import training
from dvae_tf.benchmarks import timing
from dvae_tf.models import config as config_lib


def _row(preset_name, data_dir, repeats, inner, model_overrides=None):
  preset = presets.get_preset(preset_name)
  model_config = config_lib.ModelConfig(**dict(preset['model'],
                                               **(model_overrides or {})))
  train_config = training.TrainConfig(**preset['train'])
  strategy = tf.distribute.get_strategy()
  model, optimizer = training.build_model_and_optimizer(
      model_config, train_config, data_dir, strategy)
  step = training.make_train_step(model, optimizer, train_config, strategy)
  dataset = data.make_dataset(train_config.dataset, 'train',
                              train_config.batch_size, data_dir=data_dir)
  step_iterator = iter(dataset)
  input_iterator = iter(dataset)
  rbm_prior = model.prior
  gibbs = tf.function(lambda: rbm_prior.chains.advance(
      rbm_prior.rbm(), rbm_prior.num_gibbs_sweeps, tf.constant([0, 1])))
  seconds = timing.interleaved_seconds(
      {'step': lambda: step(step_iterator)['loss'],
       'gibbs': gibbs,
       'input': lambda: next(input_iterator)},
      repeats=repeats, inner=inner)
  return {
      'preset': preset_name,
      'dataset': train_config.dataset,
      'chains': model_config.num_chains,
      'sweeps': model_config.num_gibbs_sweeps,
      'steps_per_s': 1. / seconds['step'],
      'images_per_s': train_config.batch_size / seconds['step'],
      'gibbs_fraction': seconds['gibbs'] / seconds['step'],
      'input_fraction': seconds['input'] / seconds['step'],
  }


def training_suite(quick=False, data_dir=None):
  """Step rates of the Table 2 model with the paper's and the CPU chain settings."""
  if quick:
    rows = [_row('demo', None, repeats=2, inner=2)]
  else:
    rows = []
    for name in ('repro_rbm_1_nonlin', 'repro_rbm_2_nonlin'):
      rows.append(_row(name, data_dir, repeats=5, inner=20))
      # The released code's 1000 chains x 40 sweeps, on the same model.
      rows.append(_row(name, data_dir, repeats=3, inner=5, model_overrides=dict(
          num_chains=1000, num_gibbs_sweeps=40)))
  return {'tables': {'training_step': rows},
          'summary': {'max_gibbs_fraction': max(r['gibbs_fraction']
                                                for r in rows)}}
