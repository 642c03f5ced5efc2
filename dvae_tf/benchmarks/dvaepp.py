"""Where a DVAE++ training step's time goes (Sec. 6), on this machine.

For the reduced-width preset (`dvaepp_cpu`) and the full MNIST preset
(`table3_dvaepp_mnist_dynamic`), both on the bundled MNIST sample (the same
28x28 images, so no dataset download), times interleaved in one run:

- `step`: the whole `tf.function` training step (`training.make_train_step`);
- `encoder`: the SE-ResNet encoder and the global posterior q(z | x);
- `local_groups`: the lift of zeta and the 16 local groups with their KLs;
- `decoder`: the upsampling stages and log p(x | zeta, h);
- `rbm_sampling`: the persistent chains' Gibbs sweeps (the PCD negative
  phase).

Each part runs alone, forward and backward (gradient of a scalar of its
outputs), on fixed inputs. Reported as training images per second and as
fractions of the step; the remainder is the RBM's KL, the optimizer update
and glue.
"""

import tensorflow as tf

from dvae_tf import data
from dvae_tf import presets
from dvae_tf import training
from dvae_tf.benchmarks import timing
from dvae_tf.models import config as config_lib

PRESETS = ('dvaepp_cpu', 'table3_dvaepp_mnist_dynamic')
PARTS = ('encoder', 'local_groups', 'decoder', 'rbm_sampling')


def _gradient_norm(tape, loss, model):
  grads = tape.gradient(loss, model.trainable_variables)
  return tf.add_n([tf.reduce_sum(tf.square(g)) for g in grads
                   if g is not None])


def _parts(model, x, beta):
  """The parts of the step as zero-argument functions (forward + backward)."""
  seed = tf.constant([0, 1])
  local_features, top = model.encoder_features(x)
  zetas = model.global_posterior(top, beta, seed).zetas
  state, _ = model.local_posterior(model.lift(zetas), local_features, beta,
                                   seed)

  @tf.function
  def encoder():
    with tf.GradientTape() as tape:
      features, top = model.encoder_features(x)
      posterior = model.global_posterior(top, beta, seed, training=True)
      loss = tf.reduce_sum(features) + tf.add_n(
          [tf.reduce_sum(z) for z in posterior.zetas])
    return _gradient_norm(tape, loss, model)

  @tf.function
  def local_groups():
    with tf.GradientTape() as tape:
      final, kls = model.local_posterior(model.lift(zetas), local_features,
                                         beta, seed)
      loss = tf.reduce_sum(final) + tf.reduce_sum(kls)
    return _gradient_norm(tape, loss, model)

  @tf.function
  def decoder():
    with tf.GradientTape() as tape:
      loss = -tf.reduce_sum(model.log_likelihood(x, state))
    return _gradient_norm(tape, loss, model)

  prior = model.prior
  rbm_sampling = tf.function(lambda: prior.chains.advance(
      prior.rbm(), prior.num_gibbs_sweeps, seed))
  return {'encoder': encoder, 'local_groups': local_groups,
          'decoder': decoder, 'rbm_sampling': rbm_sampling}


def _row(preset_name, repeats, inner, overrides=None, batch_size=None):
  preset = presets.get_preset(preset_name)
  model_config = config_lib.config_from_dict(dict(preset['model'],
                                                  **(overrides or {})))
  train_config = training.TrainConfig(**dict(
      preset['train'], dataset='sample',
      batch_size=batch_size or preset['train']['batch_size']))
  strategy = tf.distribute.get_strategy()
  model, optimizer = training.build_model_and_optimizer(
      model_config, train_config, None, strategy)
  step = training.make_train_step(model, optimizer, train_config, strategy)
  x = next(iter(data.make_dataset('sample', 'train',
                                  train_config.batch_size)))
  iterator = iter(tf.data.Dataset.from_tensors(x).repeat())
  fns = {'step': lambda: step(iterator)['loss']}
  fns.update(_parts(model, x, train_config.beta_start))
  seconds = timing.interleaved_seconds(fns, repeats=repeats, warmup=1,
                                       inner=inner)
  row = {
      'preset': preset_name,
      'batch': train_config.batch_size,
      'channels': 'x'.join(map(str, model.architecture.channels)),
      'local_groups': model.num_local_groups,
      'chains': model_config.num_chains,
      'sweeps': model_config.num_gibbs_sweeps,
      'steps_per_s': 1. / seconds['step'],
      'images_per_s': train_config.batch_size / seconds['step'],
  }
  row.update({f'{part}_fraction': seconds[part] / seconds['step']
              for part in PARTS})
  row['rest_fraction'] = 1. - sum(row[f'{part}_fraction'] for part in PARTS)
  return row


def dvaepp_suite(quick=False, data_dir=None, **unused_options):
  """Images per second and step fractions of the reduced and full MNIST presets.

  `quick` shrinks both models (width 4, 2 local groups, batch 8) to a smoke
  test of the suite itself: its numbers are not a measurement.
  """
  del data_dir  # The bundled sample stands in for MNIST (same image shape).
  if quick:
    rows = [_row(name, repeats=1, inner=1, batch_size=8,
                 overrides=dict(channels=4, num_local_groups=2,
                                num_chains=16, num_gibbs_sweeps=2))
            for name in PRESETS]
  else:
    rows = [_row(name, repeats=3, inner=2) for name in PRESETS]
  return {'tables': {'training_step': rows},
          'summary': {row['preset']: {'images_per_s': row['images_per_s']}
                      for row in rows}}
