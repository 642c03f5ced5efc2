"""The undirected prior of Sec. 5: an RBM over all global latent units."""

import tensorflow as tf

from dvae_tf import graphs as graphs_lib
from dvae_tf.distributions import RBM
from dvae_tf.priors import boltzmann_prior


class RBMPrior(boltzmann_prior.BoltzmannPrior):
  """An RBM over all latent units, z1 the first half and z2 the second (Sec. 5).

  The `BoltzmannPrior` on the complete bipartite graph K_{n/2, n/2}, with the
  RBM's own weights: biases a1, a2 and the coupling matrix W (so run
  directories written before general graphs restore unchanged), and its
  computations as matrix products (`distributions.RBM`).
  """

  def __init__(self, group_sizes, graph=None, smoothing=None, **kwargs):
    """Args: as `BoltzmannPrior`; `graph` defaults to K_{n/2, n/2}.

    Raises:
      ValueError: an odd number of units, or a graph that is not complete
        bipartite.
    """
    num_units = sum(int(g) for g in group_sizes)
    if graph is None:
      if num_units % 2:
        raise ValueError(f'RBMPrior: the latent units ({num_units}) must '
                         'split into two equal halves; use an even number '
                         'of units.')
      graph = graphs_lib.complete_bipartite(num_units // 2, num_units // 2)
    graph = graphs_lib.as_graph(graph)
    if not self.accepts(graph):
      raise ValueError(f'RBMPrior: {graph!r} is not a complete bipartite '
                       'graph; use prior=boltzmann for other graphs.')
    super().__init__(group_sizes, graph, smoothing=smoothing, **kwargs)

  @staticmethod
  def accepts(graph):
    """Whether `graph` is K_{n1, n2} laid out left class, then right."""
    if graph.num_colours != 2 or not graph.is_colour_sorted():
      return False
    n1, n2 = (len(c) for c in graph.colour_classes)
    return graph == graphs_lib.complete_bipartite(n1, n2)

  @property
  def num_left(self):
    return len(self.graph.colour_classes[0])

  @property
  def num_right(self):
    return len(self.graph.colour_classes[1])

  def _create_parameters(self):
    """a1 [n1], a2 [n2] and W [n1, n2], named as before general graphs."""
    self.linear_left = self.add_weight(shape=(self.num_left,),
                                       initializer='zeros', name='linear_left')
    self.linear_right = self.add_weight(
        shape=(self.num_right,), initializer='zeros', name='linear_right')
    self.weights_rbm = self.add_weight(
        shape=(self.num_left, self.num_right), initializer='zeros',
        name='weights')

  def machine(self):
    """The prior as a `dvae_tf.distributions.RBM` reading the current weights."""
    return RBM(tf.convert_to_tensor(self.linear_left),
               tf.convert_to_tensor(self.linear_right),
               tf.convert_to_tensor(self.weights_rbm),
               num_gibbs_sweeps=self.num_gibbs_sweeps)

  rbm = machine

  def decayed_weights(self):
    """W, decayed as in the released code (Appendix F notes)."""
    return [self.weights_rbm]

  def get_config(self):
    config = super().get_config()
    # K_{n1, n2} is rebuilt from the group sizes; no need to list its edges.
    config.pop('graph')
    return config


boltzmann_prior.SPECIAL_CASES.append(RBMPrior)
