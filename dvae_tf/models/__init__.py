"""Discrete VAE models.

- `FeedForwardDVAE` (Secs. 4, 5, 7.1, 7.2): fully connected hierarchical
  encoder, a directed or RBM prior, a factorial Bernoulli decoder.
- `build_model(config, train_mean)`: the model a `ModelConfig` describes.
"""

from dvae_tf.models.config import STRUCTURES, ModelConfig, Structure, build_model
from dvae_tf.models.feed_forward import FeedForwardDVAE

__all__ = ['FeedForwardDVAE', 'ModelConfig', 'STRUCTURES', 'Structure',
           'build_model']
