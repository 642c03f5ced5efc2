"""SavedModel export of a trained model, for sampling and for TF Serving.

`export(run_dir, export_dir)` restores the latest checkpoint of a model
directory, computes log Z of its prior (exact, or AIS), and writes a
SavedModel into `export_dir/<version>/`, the layout TF Serving watches
(version: the next free integer unless given). Its signatures:

- `sample` (also `serving_default`): `num_samples` int32 [], `seed` int32
  [2] -> `images` [N, H, W, C], `latents` [N, U];
- `encode`: `images` [N, H, W, C] -> `probabilities` [N, U], `code` [N, U]
  (`means` instead of `probabilities` for a model whose global latents are
  continuous, the all-continuous row of Table 3);
- `reconstruct`: `images` -> `reconstructions` [N, H, W, C];
- `log_likelihood`: `images`, `num_importance_samples` int32 [] ->
  `log_likelihood` [N] in nats.

`sample` returns Bernoulli means of p(x | z) and the binary prior sample z
(block Gibbs inside the graph for an RBM prior, with the model's number of
sweeps). `encode` returns q(z = 1 | x) of every group (concatenated) along
the mode path z_i = [q_i > 1/2], and that code (for continuous latents, the
posterior means along the mean path, which are also the code).
`log_likelihood` is the importance-weighted bound L_k
(`evaluation.importance_weighted_bound`) with the log Z computed at export
and a fixed seed, so a request is reproducible.

Every input is validated in the graph: wrong rank or size, pixels outside
[0, 1] ([0, 255] for a model of 8-bit images; see `PixelFormat`), pixels
other than 0 and 1 for a model of binary images, a count below 1 or a seed
not of shape [2] fail with INVALID_ARGUMENT naming the input. So does a
request larger than the export's `ServingLimits` (samples, images per call,
importance samples, and images x importance samples, the time of a
`log_likelihood` call), chosen at export and recorded in the metadata, so
that no request can exhaust a server's memory or hold it for hours. For that
the signatures declare inputs of unknown shape (a declared shape is trusted
by the runtime, not checked); the expected shapes are in the metadata.

`metadata.json` (model config, dataset, steps trained, test NLL when the
model directory has `eval_test.json`, log Z and how it was obtained, the
signatures, versions) is written into the SavedModel's assets and beside
`saved_model.pb`.

```python
path = export.export('runs/demo', 'exports/dvae')     # exports/dvae/1
loaded = tf.saved_model.load(path)
out = loaded.signatures['sample'](num_samples=tf.constant(4),
                                  seed=tf.constant([0, 1]))
```
"""

import dataclasses

from dvae_tf.evaluation import report as evaluation_report
from dvae_tf import ranges
from dvae_tf import run_directory
from dvae_tf.distributions.ais import PAPER_AIS_TEMPERATURES, PAPER_AIS_CHAINS
from dvae_tf.export.metadata import METADATA_FILE, build_metadata
from dvae_tf.export.requests import PixelFormat, ServingLimits
from dvae_tf.export.signatures import (LOG_LIKELIHOOD_SEED, SIGNATURES,
                                       ServingModule, encode_output,
                                       signature_docs)
from dvae_tf.export.versions import (next_version, remove_abandoned_staging,
                                     version_path, write_saved_model)

__all__ = [
    'LOG_LIKELIHOOD_SEED', 'METADATA_FILE', 'PixelFormat', 'SIGNATURES',
    'ServingLimits', 'ServingModule', 'build_metadata', 'encode_output',
    'export', 'next_version', 'remove_abandoned_staging', 'signature_docs',
    'version_path', 'write_saved_model',
]


def export(run_dir, export_dir, version=None, data_dir=None,
           ais_chains=PAPER_AIS_CHAINS,
           ais_temperatures=PAPER_AIS_TEMPERATURES, seed=0,
           limits=ServingLimits(), checkpoint=None):
  """Exports the latest checkpoint of `run_dir`; see the module docstring.

  Args:
    run_dir: a run directory (`dvae_tf.run_directory`).
    export_dir: the model's base path for TF Serving.
    version: a positive integer (default: the next free one).
    data_dir: where the dataset files are (for the training-set mean).
    ais_chains, ais_temperatures: AIS settings when log Z is not exact.
    limits: the `ServingLimits` of requests.
    checkpoint: the checkpoint to export ('ckpt-N'; default the newest).
    seed: AIS seed, as in `evaluation_report.evaluate_run` (so the same
      settings give the log Z of its `eval_test.json`).

  Returns:
    The path of the SavedModel.

  Raises:
    ValueError, FileExistsError: see `version_path`; or a count or the
      seed is out of range, or `export_dir` cannot be written (all checked
      before the model is restored).
  """
  for name, value in (('ais_chains', ais_chains),
                      ('ais_temperatures', ais_temperatures)):
    ranges.check_count(name, value, minimum=2)
  ranges.check_seed('seed', seed)
  version_path(export_dir, version)
  run_directory.check_directory(export_dir, 'export_dir')
  run = run_directory.restore_model(run_dir, data_dir, checkpoint=checkpoint)
  log_normalizer = run.model.prior.refresh_log_normalizer(
      ais_chains=ais_chains, ais_temperatures=ais_temperatures,
      seed=evaluation_report.ais_seed(seed))
  metadata = build_metadata(
      run.model, log_normalizer,
      PixelFormat.of_dataset(run.train_config.dataset), limits,
      model_config=run.model_config.to_dict(),
      train_config=dataclasses.asdict(run.train_config),
      dataset=run.train_config.dataset, step=run.step,
      test_evaluation=evaluation_report.read_evaluation(run_dir, 'test'))
  return write_saved_model(run.model, export_dir, metadata, version)
