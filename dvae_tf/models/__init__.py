"""Discrete VAE models.

- `DiscreteVAE` (`models.base`): what both models share (the bound's set-up,
  importance weights, sampling, weight decay) over hooks each implements.
- `FeedForwardDVAE` (Secs. 4, 5, 7.1, 7.2): fully connected hierarchical
  encoder, a directed or RBM prior, a factorial Bernoulli decoder.
- `DVAEpp` (Sec. 6, Table 3): the convolutional model with global binary
  latents under an RBM prior and local Normal latents, and its baselines.
- `models.config`: `ModelConfig` and `DVAEppConfig` (both carrying `kind`),
  `build_model(config, train_mean)`, `config_from_dict` for config.json.
- `models.size`: what a model's variables take, counted before it is built,
  and the admission of its size flags (`check_fits`).
"""

from dvae_tf.models.base import DiscreteVAE
from dvae_tf.models.config import ARCHITECTURES, STRUCTURES, TABLE3_ROWS
from dvae_tf.models.config import DVAEppConfig, ModelConfig, Structure
from dvae_tf.models.config import build_model, config_from_dict
from dvae_tf.models.dvaepp import DVAEpp
from dvae_tf.models.feed_forward import FeedForwardDVAE

__all__ = ['ARCHITECTURES', 'DVAEpp', 'DVAEppConfig', 'DiscreteVAE',
           'FeedForwardDVAE', 'ModelConfig', 'STRUCTURES', 'Structure',
           'TABLE3_ROWS', 'build_model', 'config_from_dict']
