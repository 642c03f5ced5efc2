"""Priors over the global latents: factorial (Sec. 4), RBM (Sec. 5), Normal.

Every prior is a `Prior` (the interface, `priors.base`). `PRIORS` maps the
names that configs use to prior classes; a new prior is a subclass of `Prior`
and one `register_prior` call. 'bernoulli' (the directed prior's name in
Table 3 configs of earlier versions) is accepted for 'factorial'.
"""

from dvae_tf.priors.base import LogNormalizer, Prior, PriorSpec
from dvae_tf.priors.base import RELEASED_NUM_CHAINS, RELEASED_NUM_GIBBS_SWEEPS
from dvae_tf.priors.factorial_prior import FactorialPrior
from dvae_tf.priors.normal_prior import NormalPrior
from dvae_tf.priors.rbm_prior import RBMPrior

PRIORS = {'factorial': FactorialPrior, 'rbm': RBMPrior, 'normal': NormalPrior}
_ALIASES = {'bernoulli': 'factorial'}


def register_prior(name, cls):
  """Makes the `Prior` subclass `cls` available to configs as `name`."""
  if not (isinstance(cls, type) and issubclass(cls, Prior)):
    raise TypeError(f'register_prior: {cls!r} is not a subclass of Prior.')
  PRIORS[name] = cls
  return cls


def canonical_name(name):
  """The registered name of prior `name` (old aliases mapped)."""
  name = _ALIASES.get(name, name)
  if name not in PRIORS:
    raise ValueError(f'prior={name!r} is not one of {sorted(PRIORS)}.')
  return name


def build_prior(name, spec):
  """The prior registered as `name`, built from a `PriorSpec`."""
  return PRIORS[canonical_name(name)].from_spec(spec)


__all__ = ['FactorialPrior', 'LogNormalizer', 'NormalPrior', 'PRIORS', 'Prior',
           'PriorSpec', 'RBMPrior', 'RELEASED_NUM_CHAINS',
           'RELEASED_NUM_GIBBS_SWEEPS', 'build_prior', 'canonical_name',
           'register_prior']
