"""Smoothing transformations and the RBM prior as TFP distributions.

- `OverlappingExponential` (Sec. 3, Eq. 3), `OverlappingLogistic` (Appendix B,
  reconstructed), `OverlappingPower` (DVAE#): mixtures q(zeta) of Eq. 2 with
  overlapping components and reparameterized samples.
- `SpikeAndExponential`: Rolfe's (2016) smoothing, the paper's baseline.
- `BoltzmannMachine`: a Boltzmann machine on any coloured graph
  (`dvae_tf.graphs`), with block Gibbs sampling over the colour classes,
  exact log Z by summing the largest class out and enumerating the rest,
  `ais_log_normalizer` for larger ones, `PersistentChains` for persistent
  contrastive divergence, and dimod BQM interop (`to_bqm`, `from_bqm`).
- `RBM` (Sec. 5): the restricted Boltzmann machine prior, the complete
  bipartite case, computed with matrix products.
- `discretized_logistic_mixture` (Sec. 6.1): the 8-bit pixel likelihood of
  DVAE++ on CIFAR-10 (Salimans et al. 2017), from TFP pieces.
"""

from dvae_tf.distributions.ais import ais_log_normalizer
from dvae_tf.distributions.boltzmann_machine import BoltzmannMachine
from dvae_tf.distributions.discretized_logistic_mixture import (
    discretized_logistic_mixture)
from dvae_tf.distributions.overlapping_exponential import OverlappingExponential
from dvae_tf.distributions.overlapping_logistic import OverlappingLogistic
from dvae_tf.distributions.overlapping_power import OverlappingPower
from dvae_tf.distributions.persistent_chains import PersistentChains
from dvae_tf.distributions.rbm import RBM
from dvae_tf.distributions.smoothed_bernoulli import SmoothedBernoulli
from dvae_tf.distributions.spike_and_exponential import SpikeAndExponential

__all__ = [
    'BoltzmannMachine',
    'OverlappingExponential',
    'OverlappingLogistic',
    'OverlappingPower',
    'PersistentChains',
    'RBM',
    'SmoothedBernoulli',
    'SpikeAndExponential',
    'ais_log_normalizer',
    'discretized_logistic_mixture',
]
