"""Priors over the global latents: factorial (Sec. 4), RBM (Sec. 5), Normal,
and the Boltzmann machine on any graph (the RBM is its bipartite case).

Every prior is a `Prior` (the interface, `priors.base`). `PRIORS` maps the
names that configs use to prior classes; a new prior is a subclass of `Prior`
and one `register_prior` call. 'bernoulli' (the directed prior's name in
Table 3 configs of earlier versions) is accepted for 'factorial'.
"""

from dvae_tf import graphs as graphs_lib
from dvae_tf.priors.base import LogNormalizer, Prior, PriorSpec
from dvae_tf.priors.base import RELEASED_NUM_CHAINS, RELEASED_NUM_GIBBS_SWEEPS
from dvae_tf.priors.boltzmann_prior import BoltzmannPrior
from dvae_tf.priors.factorial_prior import FactorialPrior
from dvae_tf.priors.normal_prior import NormalPrior
from dvae_tf.priors.rbm_prior import RBMPrior

PRIORS = {'factorial': FactorialPrior, 'rbm': RBMPrior,
          'boltzmann': BoltzmannPrior, 'normal': NormalPrior}
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


def resolve_graph(name, graph):
  """The graph setting of a config for prior `name`, checked and resolved.

  Args:
    name: a registered prior name.
    graph: a spec ('bipartite', 'chimera:3', 'FILE.json', ...) or a graph
      record (`Graph.to_dict`).

  Returns:
    The default spec unchanged (the paper's K_{n/2, n/2}, sized by the
    model), else the graph's record, so the run directory holds its nodes,
    edges and colouring whatever the files or packages at restore time.

  Raises:
    ValueError: a graph for a prior without one, or a bad spec or record.
  """
  if isinstance(graph, str) and not isinstance(graph, graphs_lib.Graph) and (
      graph == graphs_lib.DEFAULT_GRAPH):
    return graph
  if not PRIORS[canonical_name(name)].uses_graph:
    raise ValueError(
        f'graph={graph!r} applies to the priors on a graph '
        f'({sorted(n for n, c in PRIORS.items() if c.uses_graph)}); prior '
        f'{name!r} has none. Leave graph at {graphs_lib.DEFAULT_GRAPH!r}.')
  return graphs_lib.as_graph(graph).to_dict()


def layout(name, group_sizes, graph):
  """(group sizes, graph or None) of prior `name` over the latent units.

  A prior on a graph takes its units from the graph's nodes and its groups
  from the colour classes (`Graph.group_sizes`), as many groups as the
  structure asks for; the default graph keeps the structure's units.
  Other priors keep `group_sizes`.

  Args:
    name: a registered prior name.
    group_sizes: the structure's units per group.
    graph: a `resolve_graph` result.
  """
  if not PRIORS[canonical_name(name)].uses_graph:
    return list(group_sizes), None
  graph = graphs_lib.as_graph(graph, sum(group_sizes))
  return graph.group_sizes(len(group_sizes)), graph


def build_prior(name, spec):
  """The prior registered as `name`, built from a `PriorSpec`."""
  return PRIORS[canonical_name(name)].from_spec(spec)


__all__ = ['BoltzmannPrior', 'FactorialPrior', 'LogNormalizer', 'NormalPrior', 'PRIORS', 'Prior',
           'PriorSpec', 'RBMPrior', 'RELEASED_NUM_CHAINS',
           'RELEASED_NUM_GIBBS_SWEEPS', 'build_prior', 'canonical_name',
           'layout', 'register_prior', 'resolve_graph']
