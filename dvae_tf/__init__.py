"""dvae_tf: DVAE++ (Vahdat et al., ICML 2018) in TensorFlow 2.

Subpackages:
  distributions: the overlapping smoothing transformations (Sec. 3, Appendices
    A-B), Rolfe's spike-and-exponential smoothing, and the RBM prior (Sec. 5)
    as TensorFlow Probability distributions, with annealed importance sampling
    for the RBM's log partition function.
"""

__version__ = '0.1.0'
