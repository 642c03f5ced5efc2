"""Discrete VAE models.

- `FeedForwardDVAE` (Secs. 4, 5, 7.1, 7.2): fully connected hierarchical
  encoder, a directed or RBM prior, a factorial Bernoulli decoder.
- `DVAEpp` (Sec. 6, Table 3): the convolutional model with global binary
  latents under an RBM prior and local Normal latents, and its baselines;
  configured by a `DVAEppConfig`.
- `build_model(config, train_mean)`: the model a config describes;
  `config_from_dict` reads either kind of config back from config.json.
"""

from dvae_tf.models.config import STRUCTURES, ModelConfig, Structure
from dvae_tf.models.config import build_model, config_from_dict
from dvae_tf.models.dvaepp import DVAEpp
from dvae_tf.models.dvaepp_config import ARCHITECTURES, TABLE3_ROWS
from dvae_tf.models.dvaepp_config import DVAEppConfig
from dvae_tf.models.feed_forward import FeedForwardDVAE

__all__ = ['ARCHITECTURES', 'DVAEpp', 'DVAEppConfig', 'FeedForwardDVAE',
           'ModelConfig', 'STRUCTURES', 'Structure', 'TABLE3_ROWS',
           'build_model', 'config_from_dict']
