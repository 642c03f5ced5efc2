"""The exported signatures: `sample`, `encode`, `reconstruct`, `log_likelihood`.

See `dvae_tf.export` for what each takes and returns. The inputs are checked
by `export.requests` before the model sees them.
"""

import tensorflow as tf

from dvae_tf.evaluation import bound as evaluation
from dvae_tf.export.requests import (IMAGES_SPEC, SEED_SPEC, PixelFormat,
                                     ServingLimits, checked_count,
                                     checked_images,
                                     checked_importance_samples, checked_seed,
                                     count_spec, shape_text)

SIGNATURES = ('sample', 'encode', 'reconstruct', 'log_likelihood')
# `log_likelihood` draws its importance samples with this seed.
LOG_LIKELIHOOD_SEED = (0, 0)


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
    return checked_images(images, self.image_shape, self.pixels,
                           self.limits.max_images)

  def sample(self, num_samples, seed):
    """Prior samples: `images` [N, H, W, C] (Bernoulli means), `latents`."""
    num_samples = checked_count(num_samples, 'num_samples',
                                 self.limits.max_samples)
    seed = checked_seed(seed)
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
    k = checked_count(num_importance_samples, 'num_importance_samples',
                      self.limits.max_importance_samples)
    k = checked_importance_samples(images, k,
                                   self.limits.max_importance_weights)
    return {'log_likelihood': evaluation.importance_weighted_bound(
        self.model, images, k, seed=LOG_LIKELIHOOD_SEED)}


_INPUT_SIGNATURES = {
    'sample': [count_spec('num_samples'), SEED_SPEC],
    'encode': [IMAGES_SPEC],
    'reconstruct': [IMAGES_SPEC],
    'log_likelihood': [IMAGES_SPEC, count_spec('num_importance_samples')],
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
  tracked through the model object (see `run_directory.make_checkpoint`), and
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
  images = f'float32 {shape_text([None, *image_shape])}'
  codes = f'float32 {shape_text([None, num_units])}'
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

