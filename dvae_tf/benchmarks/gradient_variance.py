"""Gradient noise of Table 1's estimators at the same parameters.

Trains the Table 1 joint-ELBO model (`repro_table1_joint_exp_1_nonlin`, the
paper's Table 1 protocol) for `steps` steps, then, at those parameters and on
one minibatch of the protocol's 24 training images, draws the loss gradient
`draws` times (`dvae_tf.math.gradient_variance`) for each estimator of
`ESTIMATORS`: the joint and marginal ELBO under the overlapping exponential
smoothing, and Concrete, at betas of the schedule (6 and 14) and at Concrete's
own temperature 2/3 (beta 1.5). Per parameter group it reports the variance
(trace of the covariance over draws), the signal-to-noise ratio and the
cosine between the estimator's mean gradient and the joint ELBO's at beta 14
(the estimator the parameters were trained with, at the schedule's end).
Variances are also given as ratios to that reference's.
"""

import dataclasses
import tempfile

import numpy as np

# (objective, smoothing, beta) of each estimator; the first is the reference.
ESTIMATORS = (
    ('joint', 'exponential', 14.),
    ('joint', 'exponential', 6.),
    ('marginal', 'exponential', 14.),
    ('marginal', 'exponential', 6.),
    ('marginal', 'concrete', 14.),
    ('marginal', 'concrete', 6.),
    ('marginal', 'concrete', 1.5),
)
PRESET = 'repro_table1_joint_exp_1_nonlin'


def _trained_run(quick, data_dir, steps, run_dir):
  # pylint: disable=g-import-not-at-top
  from dvae_tf import presets
  from dvae_tf import run_directory
  from dvae_tf import training
  from dvae_tf.models import config as config_lib
  preset = presets.get_preset(PRESET)
  model_config = config_lib.ModelConfig(**preset['model'])
  train_config = training.TrainConfig(**dict(
      preset['train'], dataset='sample' if quick or not data_dir
      else preset['train']['dataset'], num_steps=steps, validate_every=0,
      checkpoint_every=steps, image_every=0, log_every=max(1, steps // 10)))
  training.train(model_config, train_config, run_dir, data_dir=data_dir,
                 verbose=False)
  return run_directory.restore_model(run_dir, data_dir=data_dir)


def gradient_variance_suite(quick=False, data_dir=None, steps=None,
                            draws=None, **unused_options):
  """Per estimator and parameter group: variance, SNR, cosine to reference."""
  # pylint: disable=g-import-not-at-top
  from dvae_tf import data
  from dvae_tf.math import gradient_variance as gv
  from dvae_tf import run_directory
  from dvae_tf import training
  steps = steps or (20 if quick else 10_000)
  draws = draws or (4 if quick else 200)
  with tempfile.TemporaryDirectory() as run_dir:
    run = _trained_run(quick, data_dir, steps, run_dir)
    batch = run.train_config.batch_size
    x = next(iter(data.make_dataset(run.train_config.dataset, 'train', batch,
                                    data_dir=data_dir, seed=1)))
    weights = run.model.get_weights()
    train_mean = run_directory.run_train_mean(run.train_config, data_dir, run_dir)
    seeds = [(s, 7) for s in range(draws)]
    results = []
    for objective, smoothing, beta in ESTIMATORS:
      config = dataclasses.replace(run.model_config, objective=objective,
                                   smoothing=smoothing)
      model = config.build(train_mean)
      model.build()
      model.set_weights(weights)  # The same networks and prior logits.
      grads, losses = gv.gradient_draws(model, x, beta, seeds)
      masks = gv.group_slices(model)
      bound = -float(np.mean(losses))
      results.append((objective, smoothing, beta, bound,
                      {g: gv.statistics(grads[:, m]) for g, m in
                       masks.items()}))
  reference = results[0][4]
  rows = []
  for objective, smoothing, beta, bound, stats in results:
    row = {'objective': objective, 'smoothing': smoothing, 'beta': beta,
           'relaxed_bound': bound}
    for group, s in stats.items():
      row[f'{group}_variance'] = s['variance']
      # None where the reference's gradient has no noise (e.g. the prior's
      # logits under the joint ELBO, whose KL is in closed form).
      ref = reference[group]['variance']
      row[f'{group}_variance_ratio'] = s['variance'] / ref if ref else None
      row[f'{group}_snr'] = s['snr']
      row[f'{group}_cosine'] = gv.cosine(s['mean'], reference[group]['mean'])
    rows.append(row)
  summary = {
      'trained_steps': steps, 'draws': draws, 'batch': batch,
      'dataset': run.train_config.dataset, 'reference': list(ESTIMATORS[0]),
      'encoder_variance_ratio': {
          f'{r["objective"]}/{r["smoothing"]}/beta{r["beta"]:g}':
              r['encoder_variance_ratio'] for r in rows}}
  return {'tables': {'gradient_variance': rows}, 'summary': summary}
