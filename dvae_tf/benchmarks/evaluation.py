"""The importance-weighted bound at k = 4000 on the Table 2 1-layer RBM model:
importance samples per second as a TensorFlow graph and compiled by XLA, by
the rows (images x samples) of one chunk, interleaved.

The model is `repro_rbm_1_nonlin` at its initial weights (the cost of a
sample does not depend on them), scoring one batch of `evaluation.BATCH_SIZE`
test images; log Z is set by a short AIS run. This is how the defaults of
`evaluation.bound` (graph, `DiscreteVAE.max_evaluation_rows` rows) were
chosen; `bin/evaluate.py` on all 10,000 test images is the end-to-end figure.
"""

import numpy as np

from dvae_tf.benchmarks import timing

PRESET = 'repro_rbm_1_nonlin'
ROWS = (2_000, 5_000, 10_000, 20_000)


def evaluation_suite(quick=False, data_dir=None, **unused_options):
  """Samples/s of the bound for each chunk size, graph and XLA."""
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  from dvae_tf import data
  from dvae_tf import presets
  from dvae_tf.evaluation import bound
  from dvae_tf.models import config as config_lib
  preset = presets.get_preset(PRESET, 'mnist_dynamic')
  dataset = 'mnist_dynamic' if data_dir else 'sample'
  images = data.load_images(dataset, 'test', data_dir=data_dir)
  model = config_lib.build_model(
      config_lib.config_from_dict(dict(preset['model'], kind='feed_forward')),
      images.mean(0), binary=True)
  model.build()
  model.prior.refresh_log_normalizer(ais_chains=64, ais_temperatures=50,
                                     seed=(0, 1))
  batch = min(bound.BATCH_SIZE, len(images))
  x = tf.constant(images[:batch], tf.float32)
  k = 200 if quick else bound.NUM_IMPORTANCE_SAMPLES
  rows = []
  for chunk_rows in (ROWS[:1] if quick else ROWS):
    chunk = max(1, chunk_rows // batch)
    fns = {}
    for name, jit in (('graph', False), ('xla', True)):
      fns[name] = tf.function(
          lambda s, chunk=chunk: bound.importance_weighted_bound(
              model, x, k, seed=s, chunk_size=chunk), jit_compile=jit)
    seconds = timing.interleaved_seconds(
        {name: (lambda f=f: f(tf.constant([0, 1]))) for name, f in fns.items()},
        repeats=1 if quick else 3, warmup=1, inner=1)
    rows.append({'rows_per_chunk': chunk * batch, 'batch': batch, 'k': k,
                 'graph_samples_per_s': batch * k / seconds['graph'],
                 'xla_samples_per_s': batch * k / seconds['xla'],
                 'xla_over_graph': seconds['graph'] / seconds['xla']})
  best = max(rows, key=lambda r: r['graph_samples_per_s'])
  return {'tables': {'evaluation': rows},
          'summary': {'best_rows_per_chunk': best['rows_per_chunk'],
                      'best_samples_per_s': max(
                          best['graph_samples_per_s'],
                          best['xla_samples_per_s']),
                      'max_xla_over_graph': float(np.max(
                          [r['xla_over_graph'] for r in rows]))}}
