"""Throughput of an exported SavedModel against the live Keras model.

Exports a model (initial weights: speed does not depend on training), loads
the SavedModel in the same process and times, interleaved, `sample` (prior
samples with their Bernoulli means) and `log_likelihood` (L_k per image)
through the loaded signatures and through `tf.function`s of the live model,
in paired rounds. The export adds the in-graph input checks and takes its
counts as tensors; the target is an export / live ratio of the best times of
at most 1.1 (the noise of a shared machine), i.e. the export is not slower.
"""

import tempfile

import numpy as np
import tensorflow as tf

from dvae_tf import data
from dvae_tf.evaluation import bound as evaluation
from dvae_tf import export
from dvae_tf import presets
from dvae_tf.benchmarks import timing
from dvae_tf.models import config as config_lib

TARGET_RATIO = 1.1


def _model(preset_name):
  """The preset's model with its initial weights, and its dataset."""
  preset = presets.get_preset(preset_name)
  dataset = preset['train']['dataset']
  # A constant mean: the model's speed does not need the dataset's files.
  mean = np.full(data.image_shape(dataset), 0.13, np.float32)
  model = config_lib.build_model(config_lib.ModelConfig(**preset['model']),
                                 mean)
  model.build()
  return model, dataset


def _paired(live, exported, rounds, inner):
  """Best seconds per call of each, and the median of per-round ratios.

  Each round times the two back to back, in alternating order. On a busy
  shared machine the best time of many rounds is the least disturbed
  estimate of a call's own cost (as `timeit` advises); the median of the
  per-round ratios is reported beside it.
  """
  timing.interleaved_seconds({'live': live, 'export': exported}, repeats=1,
                             inner=1)  # Warm-up: tracing, first calls.
  fns = {'live': live, 'export': exported}
  times = []
  for i in range(rounds):
    order = ('live', 'export') if i % 2 == 0 else ('export', 'live')
    times.append(timing.interleaved_seconds(
        {name: fns[name] for name in order}, repeats=1, warmup=0,
        inner=inner))
  return (min(t['live'] for t in times), min(t['export'] for t in times),
          float(np.median([t['export'] / t['live'] for t in times])))


def _rows(preset_name, num_samples, num_images, num_importance_samples,
          rounds, inner):
  model, dataset = _model(preset_name)
  # A quick log Z: its value does not change the work.
  log_normalizer = model.prior.refresh_log_normalizer(ais_chains=16,
                                                      ais_temperatures=10)
  metadata = export.build_metadata(model, log_normalizer,
                                   export.PixelFormat.of_dataset(dataset))
  images = tf.constant(data.load_images('sample', 'test')[:num_images])
  seed = tf.constant(export.LOG_LIKELIHOOD_SEED)
  n = tf.constant(num_samples)
  k = tf.constant(num_importance_samples)
  # Inputs are arguments, as in the export (small captured tensors would
  # become constants of the graph); k is a Python int, the library's usual
  # call.
  live_sample = tf.function(model.sample)
  live_log_likelihood = tf.function(
      lambda x, s: evaluation.importance_weighted_bound(
          model, x, num_importance_samples, seed=s))
  with tempfile.TemporaryDirectory() as export_dir:
    signatures = tf.saved_model.load(
        export.write_saved_model(model, export_dir, metadata)).signatures
    # `sample` is fast, so more calls per timing.
    results = {
        'sample': _paired(
            lambda: live_sample(n, seed),
            lambda: list(signatures['sample'](
                num_samples=n, seed=seed).values()),
            rounds, 10 * inner),
        'log_likelihood': _paired(
            lambda: live_log_likelihood(images, seed),
            lambda: list(signatures['log_likelihood'](
                images=images, num_importance_samples=k).values()),
            rounds, inner),
    }
  items = {'sample': num_samples, 'log_likelihood': num_images}
  return [{
      'model': preset_name,
      'signature': signature,
      'batch': items[signature],
      'importance_samples': (num_importance_samples
                             if signature == 'log_likelihood' else 0),
      'live_ms': 1e3 * live,
      'export_ms': 1e3 * exported,
      'export_items_per_s': items[signature] / exported,
      'ratio_export_to_live': exported / live,
      'median_round_ratio': round_ratio,
  } for signature, (live, exported, round_ratio) in results.items()]


def export_suite(quick=False, data_dir=None, **unused_options):
  """Runs the suite; `quick` shrinks it to a smoke test."""
  del data_dir  # Initial weights and the bundled sample images only.
  if quick:
    rows = _rows('demo', 10, 10, 10, rounds=2, inner=2)
  else:
    rows = []
    for name in ('demo', 'repro_rbm_2_nonlin', 'repro_joint_exp_1_nonlin'):
      rows += _rows(name, num_samples=100, num_images=50,
                    num_importance_samples=50, rounds=25, inner=2)
  worst = max(r['ratio_export_to_live'] for r in rows)
  return {
      'tables': {'throughput': rows},
      'summary': {'worst_ratio_export_to_live': worst,
                  'target_ratio': TARGET_RATIO,
                  'meets_target': worst <= TARGET_RATIO},
  }
