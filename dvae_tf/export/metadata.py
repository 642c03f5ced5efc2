"""The export's metadata: the model's interface, its log Z, its origin, versions.

Written as `metadata.json` into the SavedModel's assets and beside
`saved_model.pb`.
"""

import dataclasses

import keras
import tensorflow as tf
import tensorflow_probability as tfp

import dvae_tf
from dvae_tf.export.requests import PixelFormat, ServingLimits
from dvae_tf.export.signatures import (LOG_LIKELIHOOD_SEED, encode_output,
                                       signature_docs)

METADATA_FILE = 'metadata.json'


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
