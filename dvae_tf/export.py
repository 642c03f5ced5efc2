"""SavedModel export of a trained model, for sampling and for TF Serving.

`export(model_dir, export_dir)` restores the latest checkpoint of a model
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
importance samples), chosen at export and recorded in the metadata, so that
no request can exhaust a server's memory or hold it for hours. For that
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
import json
import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf
import tensorflow_probability as tfp

import dvae_tf
from dvae_tf import data
from dvae_tf.evaluation import bound as evaluation
from dvae_tf.evaluation import report as evaluation_report
from dvae_tf import ranges
from dvae_tf import run_dir
from dvae_tf.distributions.ais import PAPER_AIS_TEMPERATURES, PAPER_AIS_CHAINS

METADATA_FILE = 'metadata.json'
SIGNATURES = ('sample', 'encode', 'reconstruct', 'log_likelihood')
# `log_likelihood` draws its importance samples with this seed.
LOG_LIKELIHOOD_SEED = (0, 0)

# Unknown shapes: the runtime does not check a declared shape against the fed
# tensor, so the signatures check shapes themselves (see `_checked`).
_IMAGES = tf.TensorSpec(None, tf.float32, name='images')
_SEED = tf.TensorSpec(None, tf.int32, name='seed')


# Values an error message shows of each tensor (shapes are shown whole).
_MAX_SHOWN = 16


def _count_spec(name):
  return tf.TensorSpec(None, tf.int32, name=name)


def _shape_text(shape):
  return '[' + ', '.join('N' if d is None else str(d) for d in shape) + ']'


def _has_shape(x, shape):
  """Whether `x` has `shape` (None: any size), as a boolean tensor.

  Safe for a tensor of any rank: the sizes compared are padded, never indexed
  past the end.
  """
  rank = len(shape)
  result = tf.equal(tf.rank(x), rank)
  known = [i for i, d in enumerate(shape) if d is not None]
  if known:
    padded = tf.concat([tf.shape(x), tf.fill([rank], -1)], 0)[:rank]
    result &= tf.reduce_all(
        tf.equal(tf.gather(padded, known), [shape[i] for i in known]))
  return result


def _checked(x, checks, stand_in):
  """`x` if every check holds, else `stand_in` (a valid input).

  Each check is (condition, message): a false condition fails the call with
  INVALID_ARGUMENT and the message (a list of strings and tensors). Graph
  optimizations do not keep control dependencies in order, so the model
  cannot simply be made to wait for the assertions; instead it gets
  `stand_in` when a check fails, and none of its ops can fail first with a
  less clear error.
  """
  for condition, message in checks:
    tf.debugging.Assert(condition, message, summarize=_MAX_SHOWN)
  ok = tf.reduce_all(tf.stack([condition for condition, _ in checks]))
  return tf.cond(ok, lambda: tf.identity(x), lambda: stand_in)


@dataclasses.dataclass(frozen=True)
class ServingLimits:
  """The largest request each signature accepts.

  Attributes:
    max_samples: `num_samples` of one `sample` call.
    max_images: images of one `encode`, `reconstruct` or `log_likelihood`
      call.
    max_importance_samples: `num_importance_samples` of one
      `log_likelihood` call.
  """
  max_samples: int = 10_000
  max_images: int = 1_000
  max_importance_samples: int = 100_000

  def __post_init__(self):
    for name, value in dataclasses.asdict(self).items():
      ranges.check_count(name, value)


def _checked_count(n, name, maximum):
  """A scalar count, checked to lie in [1, maximum]."""
  n = _checked(n, [
      (_has_shape(n, []), [f'{name} must be a scalar; got shape', tf.shape(n)]),
      (tf.reduce_all(n > 0), [f'{name} must be a positive integer; got', n]),
      (tf.reduce_all(n <= maximum), [
          f'{name} must be at most {maximum} (the limit this model was '
          'exported with); got', n]),
  ], tf.constant(1))
  return tf.ensure_shape(n, [])


def _checked_seed(seed):
  """A stateless seed, checked to have shape [2]."""
  seed = _checked(seed, [(_has_shape(seed, [2]), [
      'seed must be an int32 vector of shape [2]; got shape', tf.shape(seed)])],
                  tf.zeros([2], tf.int32))
  return tf.ensure_shape(seed, [2])


@dataclasses.dataclass(frozen=True)
class PixelFormat:
  """The pixels a model takes: values in [0, max_value], only 0 and 1 if binary.

  Attributes:
    binary: whether pixels are 0 or 1 (MNIST, Omniglot, Caltech-101).
    max_value: the largest pixel value (1; 255 for 8-bit images such as
      CIFAR-10, which the data pipeline yields as 0..255).
  """
  binary: bool = True
  max_value: float = 1.

  @classmethod
  def of_dataset(cls, name):
    """The pixels of dataset `name` as `data.make_dataset` yields them."""
    spec = data.get_spec(name)
    return cls(True, 1.) if spec.binary else cls(False, float(spec.levels))


def _checked_images(images, image_shape, pixels, max_images):
  """Images [N, H, W, C] checked for shape, values (a `PixelFormat`) and N."""
  shape = [None, *image_shape]
  checks = [
      (_has_shape(images, shape),
       [f'images must have shape {_shape_text(shape)}; got shape',
        tf.shape(images)]),
      (tf.reduce_all(tf.shape(images)[:1] <= max_images), [
          f'images: at most {max_images} per call (the limit this model was '
          'exported with); got', tf.shape(images)[:1]]),
      (tf.reduce_all((images >= 0.) & (images <= pixels.max_value)),
       [f'images: pixel values must lie in [0, {pixels.max_value:g}]; got '
        'values from', tf.reduce_min(images), 'to', tf.reduce_max(images)]),
  ]
  if pixels.binary:
    # Values outside [0, 1] are the range check's to report.
    between = (images > 0.) & (images < 1.)
    checks.append((tf.logical_not(tf.reduce_any(between)), [
        'images: this model takes binary pixels, 0 or 1; got',
        tf.math.count_nonzero(between), 'pixels strictly between 0 and 1']))
  images = _checked(images, checks, tf.zeros([1, *image_shape]))
  return tf.ensure_shape(images, shape)


class _SignatureBodies:
  """What each signature computes, from validated inputs.

  A plain object, so that saving does not follow it to the Keras model (see
  `ServingModule`). Everything besides the model's variables is fixed here:
  the image shape, the pixel format. (log Z is the prior's stored value, a
  variable saved with the others.)
  """

  def __init__(self, model, pixels, limits):
    self.model = model
    self.image_shape = [int(d) for d in model.image_shape]
    self.pixels = pixels
    self.limits = limits

  def _images(self, images):
    return _checked_images(images, self.image_shape, self.pixels,
                           self.limits.max_images)

  def sample(self, num_samples, seed):
    """Prior samples: `images` [N, H, W, C] (Bernoulli means), `latents`."""
    num_samples = _checked_count(num_samples, 'num_samples',
                                 self.limits.max_samples)
    seed = _checked_seed(seed)
    images, latents = self.model.sample(num_samples, seed)
    return {'images': images, 'latents': latents}

  def encode(self, images):
    """q(z = 1 | x) on the mode path, `probabilities` [N, U], and its `code`.

    For continuous global latents, their posterior `means` [N, U] instead.
    """
    images = self._images(images)
    posterior, _ = self.model.encode_binary(images)
    latent = self.model.global_latent
    return {encode_output(self.model): tf.concat(
                [latent.mean(params) for params in posterior.params], -1),
            'code': tf.concat(posterior.zetas, -1)}

  def reconstruct(self, images):
    """Bernoulli means of p(x | z) at the posterior's mode path."""
    images = self._images(images)
    return {'reconstructions': self.model.reconstruct(images)}

  def log_likelihood(self, images, num_importance_samples):
    """L_k of each image in nats, k = `num_importance_samples`, [N]."""
    images = self._images(images)
    k = _checked_count(num_importance_samples, 'num_importance_samples',
                       self.limits.max_importance_samples)
    return {'log_likelihood': evaluation.importance_weighted_bound(
        self.model, images, k, seed=LOG_LIKELIHOOD_SEED)}


_INPUT_SIGNATURES = {
    'sample': [_count_spec('num_samples'), _SEED],
    'encode': [_IMAGES],
    'reconstruct': [_IMAGES],
    'log_likelihood': [_IMAGES, _count_spec('num_importance_samples')],
}


def encode_output(model):
  """`encode`'s first output: 'probabilities', or 'means' if continuous."""
  return 'probabilities' if model.global_latent.binary else 'means'


def _tf_variables(model):
  """The `tf.Variable`s behind a Keras model's weights."""
  variables = [getattr(w, 'value', w) for w in model.weights]
  wrapped = [w.path for w, v in zip(model.weights, variables)
             if not isinstance(v, tf.Variable)]
  if wrapped:
    raise TypeError(f'Cannot export weights {wrapped}: their values are not '
                    'tf.Variables (is the Keras backend TensorFlow?).')
  return variables


class ServingModule(tf.Module):
  """The exported signatures of a model, with inputs validated in the graph.

  Works with any `models.DiscreteVAE`.

  The module holds the signature functions and the `tf.Variable`s behind the
  model's weights, not the model: Keras 3 layers held in Python lists are not
  tracked through the model object (see `run_dir.make_checkpoint`), and
  Keras variables tracked as such save a copy that a TF1 session (TF Serving,
  `saved_model_cli run`) never restores ("Could not find variable").

  ```python
  model.prior.refresh_log_normalizer()
  module = ServingModule(model)
  tf.saved_model.save(module, path, signatures=module.signatures())
  ```
  """

  def __init__(self, model, pixels=PixelFormat(), limits=ServingLimits(),
               metadata_path=None, name=None):
    """Wraps `model`.

    Args:
      model: a trained model whose prior holds the log Z to serve with.
      pixels: the `PixelFormat` the model takes.
      limits: the `ServingLimits` of requests.
      metadata_path: a JSON file to store in the SavedModel's assets.
      name: module name.
    """
    super().__init__(name=name or 'dvae_serving')
    self.model_variables = _tf_variables(model)
    bodies = _SignatureBodies(model, pixels, limits)
    for signature in SIGNATURES:
      setattr(self, signature, tf.function(
          getattr(bodies, signature),
          input_signature=_INPUT_SIGNATURES[signature]))
    if metadata_path is not None:
      self.metadata = tf.saved_model.Asset(metadata_path)

  def signatures(self):
    """The signature functions by key, `serving_default` being `sample`."""
    functions = {name: getattr(self, name) for name in SIGNATURES}
    return {'serving_default': functions['sample'], **functions}


def signature_docs(image_shape, num_units, encoded='probabilities'):
  """What each signature takes and returns, as text for the metadata."""
  images = f'float32 {_shape_text([None, *image_shape])}'
  codes = f'float32 {_shape_text([None, num_units])}'
  docs = {
      'sample': ({'num_samples': 'int32 []', 'seed': 'int32 [2]'},
                 {'images': images, 'latents': codes}),
      'encode': ({'images': images}, {encoded: codes, 'code': codes}),
      'reconstruct': ({'images': images}, {'reconstructions': images}),
      'log_likelihood': (
          {'images': images, 'num_importance_samples': 'int32 []'},
          {'log_likelihood': 'float32 [N]'}),
  }
  return {name: {'inputs': inputs, 'outputs': outputs}
          for name, (inputs, outputs) in docs.items()}


def build_metadata(model, log_normalizer, pixels=PixelFormat(),
                   limits=ServingLimits(), **context):
  """The export's metadata: the model's interface, log Z, versions, `context`.

  Args:
    model: the exported model.
    log_normalizer: the `priors.LogNormalizer` the prior holds.
    pixels: the `PixelFormat` the model takes.
    limits: the `ServingLimits` of requests.
    **context: JSON-serializable facts about the model's origin (config,
      dataset, step, evaluation), stored as given.

  Returns:
    A JSON-serializable dict.
  """
  num_units = int(sum(model.group_sizes))
  return {
      **context,
      'image_shape': [int(d) for d in model.image_shape],
      'binary_pixels': pixels.binary,
      'max_pixel_value': pixels.max_value,
      'group_sizes': [int(g) for g in model.group_sizes],
      'num_latent_units': num_units,
      'log_z': log_normalizer.value,
      'log_z_stderr': log_normalizer.stderr,
      'log_z_method': log_normalizer.method,
      # Block Gibbs sweeps per `sample` call (None: ancestral sampling).
      'sample_gibbs_sweeps': model.prior.sample_gibbs_sweeps,
      'log_likelihood_seed': list(LOG_LIKELIHOOD_SEED),
      'limits': dataclasses.asdict(limits),
      'signatures': signature_docs(model.image_shape, num_units,
                                   encode_output(model)),
      'versions': {'dvae_tf': dvae_tf.__version__,
                   'tensorflow': tf.__version__,
                   'tensorflow_probability': tfp.__version__,
                   'keras': keras.__version__},
  }


def next_version(export_dir):
  """One more than the largest version folder in `export_dir` (1 if none)."""
  if not os.path.isdir(export_dir):
    return 1
  versions = [int(n) for n in os.listdir(export_dir)
              if re.fullmatch(r'\d+', n)
              and os.path.isdir(os.path.join(export_dir, n))]
  return max(versions, default=0) + 1


def version_path(export_dir, version=None):
  """`export_dir/<version>`, checked to be a new version.

  Args:
    export_dir: the model's base path for TF Serving.
    version: a positive integer (default: `next_version(export_dir)`).

  Raises:
    ValueError: `version` is not a positive int64 (TF Serving reads version
      folders as int64).
    FileExistsError: that version exists.
  """
  if version is None:
    version = next_version(export_dir)
  ranges.check_count('version', version, maximum=ranges.MAX_INT64)
  path = os.path.join(export_dir, str(int(version)))
  if os.path.exists(path):
    raise FileExistsError(
        f'{path} exists: a served version is never overwritten. Leave out '
        f'the version to write the next free one '
        f'({next_version(export_dir)}).')
  return path


def _process_alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def remove_abandoned_staging(export_dir):
  """Removes the hidden staging folders of exports whose process is gone.

  A staging folder is `.<version>-<pid>-<random>`; one left by a killed
  export is never renamed into place, so it is only clutter.
  """
  removed = []
  for name in os.listdir(export_dir):
    match = re.fullmatch(r'\.\d+-(\d+)-.*', name)
    path = os.path.join(export_dir, name)
    if match and os.path.isdir(path) and not _process_alive(
        int(match.group(1))):
      shutil.rmtree(path, ignore_errors=True)
      removed.append(path)
  return removed


def write_saved_model(model, export_dir, metadata, version=None):
  """Writes `model`'s signatures to `export_dir/<version>/`; returns the path.

  The SavedModel is written to a hidden folder and renamed into place, so a
  server watching `export_dir` never sees a partial version.

  Args:
    model: the model to export (see `ServingModule`).
    export_dir: the model's base path for TF Serving.
    metadata: from `build_metadata` (its pixel format and limits are used).
    version: a positive integer (default: `next_version(export_dir)`).

  Returns:
    The path of the new version.
  """
  path = version_path(export_dir, version)
  os.makedirs(export_dir, exist_ok=True)
  remove_abandoned_staging(export_dir)
  staging = tempfile.mkdtemp(
      prefix=f'.{os.path.basename(path)}-{os.getpid()}-', dir=export_dir)
  try:
    os.chmod(staging, 0o755)  # mkdtemp's 0o700 would hide it from a server.
    metadata_path = os.path.join(staging, METADATA_FILE)
    with open(metadata_path, 'w') as f:
      json.dump(metadata, f, indent=2)
    pixels = PixelFormat(metadata['binary_pixels'],
                         metadata['max_pixel_value'])
    module = ServingModule(model, pixels=pixels,
                           limits=ServingLimits(**metadata['limits']),
                           metadata_path=metadata_path)
    tf.saved_model.save(module, staging, signatures=module.signatures())
    os.rename(staging, path)
  except (OSError, tf.errors.OpError) as e:
    shutil.rmtree(staging, ignore_errors=True)
    reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    raise ValueError(f'Cannot write the SavedModel to {export_dir} '
                     f'({reason}); free disk space, then export again.'
                    ) from None
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return path


def export(model_dir, export_dir, version=None, data_dir=None,
           ais_chains=PAPER_AIS_CHAINS,
           ais_temperatures=PAPER_AIS_TEMPERATURES, seed=0,
           limits=ServingLimits(), checkpoint=None):
  """Exports the latest checkpoint of `model_dir`; see the module docstring.

  Args:
    model_dir: a run directory (`dvae_tf.run_dir`).
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
  run_dir.check_directory(export_dir, 'export_dir')
  run = run_dir.restore_model(model_dir, data_dir, checkpoint=checkpoint)
  log_normalizer = run.model.prior.refresh_log_normalizer(
      ais_chains=ais_chains, ais_temperatures=ais_temperatures,
      seed=evaluation_report.ais_seed(seed))
  metadata = build_metadata(
      run.model, log_normalizer,
      PixelFormat.of_dataset(run.train_config.dataset), limits,
      model_config=run.model_config.to_dict(),
      train_config=dataclasses.asdict(run.train_config),
      dataset=run.train_config.dataset, step=run.step,
      test_evaluation=evaluation_report.read_evaluation(model_dir, 'test'))
  return write_saved_model(run.model, export_dir, metadata, version)
