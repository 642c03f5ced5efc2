"""A Boltzmann-machine prior on any coloured graph over the global latents.

Sec. 5 trains an RBM prior and notes that the method extends to general
Boltzmann machines; this is that prior. The graph's nodes are the latent
units (`dvae_tf.graphs`), laid out colour class by colour class, and the
hierarchical posterior's groups are runs of whole colour classes (or equal
parts of each class: `Graph.group_sizes`), as the paper's two groups are the
RBM's two halves. Training uses the KL of Sec. 5 generalised to edges within
and across groups (`objectives.boltzmann_kl`), log Z with the persistent-chain
gradient of Appendix E (`dvae_tf.math.log_z_gradient`), and under a
deterministic q(z | x, zeta) Rolfe's boundary term
(`dvae_tf.math.rolfe_gradient`).

`RBMPrior` (`priors.rbm_prior`) is the complete bipartite case, with the
RBM's own parameters; `BoltzmannPrior.from_spec` builds it for that graph,
so a run with the default graph is the paper's RBM.
"""

import keras
import numpy as np
import tensorflow as tf

from dvae_tf import cpu
from dvae_tf import distribute
from dvae_tf import graphs as graphs_lib
from dvae_tf.math import log_z_gradient
from dvae_tf.math import objectives
from dvae_tf.math import rolfe_gradient
from dvae_tf.distributions import BoltzmannMachine, PersistentChains
from dvae_tf.distributions import ais
from dvae_tf.distributions import ais_log_normalizer
from dvae_tf.distributions import boltzmann_machine
from dvae_tf.priors import base


# Subclasses for graphs with a faster form, each with `accepts(graph)`;
# `priors.rbm_prior` adds the RBM.
SPECIAL_CASES = []

# On a CPU without AVX-512, the most coupling multiply-adds of the persistent
# chains' Gibbs sweeps per training step (chains x sweeps x edges; twice
# that in products, each edge read from both ends) at which the step still
# runs faster compiled by XLA than as a graph: XLA removes a fixed cost per
# op, but there its matrix products run about a tenth slower than the
# graph's. Table 2's model (40 sweeps of the 100 + 100 RBM) on one core of
# an AMD EPYC with AVX2, graph over XLA step time, three interleaved rounds
# (reports/benchmark_xla_chains_avx2.json, the other core busy): 1.09 at
# 100 chains, 1.05 at 200, 1.05 at 500 (rounds spread widely), 0.92 at 1000
# (rounds within 4%). With AVX-512 XLA was the faster one at every count,
# 100 to 1000 chains (reports/benchmark_xla_chains.json), and on a GPU XLA
# is what removes the launches.
XLA_GIBBS_MULTIPLY_ADDS = 500 * 40 * 100 * 100


class BoltzmannPrior(base.Prior):
  """A Boltzmann machine on `graph` over all global latent units (Sec. 5).

  Biases and couplings start at zero (Appendix E notes). The persistent
  chains are a sublayer, so they are saved and restored with the model. The
  value of log Z is `log_z_estimate`, the latest exact or AIS value, which
  `refresh_log_normalizer` recomputes. `get_config` records the graph
  (nodes, edges, colouring).
  """

  needs_posterior_logits = True
  uses_graph = True

  def __init__(self, group_sizes, graph, smoothing=None,
               num_chains=base.RELEASED_NUM_CHAINS,
               num_gibbs_sweeps=base.RELEASED_NUM_GIBBS_SWEEPS, seed=0,
               **kwargs):
    """Args: group_sizes: units per posterior group, contiguous in the
    graph's unit order (configs use `graph.group_sizes`: whole colour
    classes); graph: a `graphs.Graph` (or its `to_dict`); the rest as in
    `PriorSpec`.

    Raises:
      ValueError: if the groups do not cover the graph's units.
    """
    super().__init__(group_sizes, smoothing=smoothing, **kwargs)
    graph = graphs_lib.as_graph(graph)
    if sum(self.group_sizes) != graph.num_nodes:
      raise ValueError(
          f'{type(self).__name__}: posterior groups {self.group_sizes} hold '
          f'{sum(self.group_sizes)} units but {graph!r} has '
          f'{graph.num_nodes}.')
    self.graph = graph
    self.num_chains = num_chains
    self.num_gibbs_sweeps = num_gibbs_sweeps
    self.seed = seed
    self._create_parameters()
    self.chains = PersistentChains(num_chains, graph.num_nodes, seed=seed,
                                   name='persistent_chains')
    # The zero-initialised machine has log Z = n log 2.
    self.log_z_estimate = self.add_weight(
        shape=(), initializer=keras.initializers.Constant(
            graph.num_nodes * np.log(2.)), trainable=False,
        name='log_z_estimate')
    self._ais = tf.function(self._ais_graph, autograph=False)

  def _create_parameters(self):
    """The machine's weights: biases b [n] and couplings w [E]."""
    self.biases = self.add_weight(shape=(self.graph.num_nodes,),
                                  initializer='zeros', name='biases')
    self.couplings = self.add_weight(shape=(self.graph.num_edges,),
                                     initializer='zeros', name='couplings')

  @classmethod
  def from_spec(cls, spec):
    """The prior on `spec.graph`: the first of `SPECIAL_CASES` whose
    `accepts(graph)` (the `RBMPrior` on a complete bipartite graph), else a
    `BoltzmannPrior`."""
    graph = graphs_lib.as_graph(spec.graph or graphs_lib.DEFAULT_GRAPH,
                                sum(spec.group_sizes))
    prior_cls = next((c for c in SPECIAL_CASES if c.accepts(graph)),
                     BoltzmannPrior)
    return prior_cls(spec.group_sizes, graph, smoothing=spec.smoothing,
                     num_chains=spec.num_chains,
                     num_gibbs_sweeps=spec.num_gibbs_sweeps, name='prior')

  def machine(self):
    """The prior as a `BoltzmannMachine` reading the current weights."""
    return BoltzmannMachine(self.graph, tf.convert_to_tensor(self.biases),
                            tf.convert_to_tensor(self.couplings),
                            num_gibbs_sweeps=self.num_gibbs_sweeps)

  @property
  def log_z(self):
    return float(self.log_z_estimate.numpy())

  @property
  def sample_gibbs_sweeps(self):
    return self.num_gibbs_sweeps

  @property
  def xla_step_is_faster(self):
    """On a GPU or an AVX-512 CPU yes; on another CPU up to
    `XLA_GIBBS_MULTIPLY_ADDS` of Gibbs sweeps a step."""
    if cpu.has_avx512() or tf.config.list_logical_devices('GPU'):
      return True
    return (self.num_chains * self.num_gibbs_sweeps * self.graph.num_edges
            <= XLA_GIBBS_MULTIPLY_ADDS)

  def gather_replica_state(self):
    """Every replica's persistent chains into every copy (before a save)."""
    self.chains.gather_replicas()

  def decayed_weights(self):
    """The couplings, decayed as W in the released code (Appendix F notes)."""
    return [self.couplings]

  def _kl(self, posterior, beta, seed, training):
    """KL of Sec. 5; in training, log Z has the PCD gradient (Appendix E).

    Under a smoothing with a deterministic q(z | x, zeta) (spike_exp), a
    zero-valued surrogate adds the gradient that the reparameterization
    misses (Rolfe 2016, `dvae_tf.math.rolfe_gradient`).
    """
    del beta
    machine = self.machine()
    log_z = tf.convert_to_tensor(self.log_z_estimate)
    if training:
      log_z = log_z_gradient.log_z_with_pcd_gradient(
          log_z, machine, self.chains, self.num_gibbs_sweeps, seed)
    nu_logits = [d.posterior_logits(s) for d, s in
                 zip(posterior.distributions, posterior.samples)]
    kl = objectives.boltzmann_kl(machine, self.group_sizes, posterior.params,
                                 nu_logits, log_z)
    if self.smoothing.deterministic_posterior:
      kl += rolfe_gradient.boundary_surrogate(machine, self.group_sizes,
                                              posterior.params, nu_logits)
    return kl

  def _log_prob(self, z_groups, training):
    """log p(z) = -E(z) - log Z for binary z, log Z = `log_z_estimate`."""
    del training
    return (-self.machine().energy(tf.concat(z_groups, axis=-1)) -
            tf.convert_to_tensor(self.log_z_estimate))

  def _sample(self, num_samples, seed):
    """Block Gibbs samples of the machine, split into the posterior's groups."""
    z = self.machine().sample(num_samples, seed=seed)
    return tf.split(z, self.group_sizes, axis=-1)

  def _ais_graph(self, num_chains, num_temperatures, seed):
    """AIS of log Z (`ais_log_normalizer`) as one graph, traced once per
    setting."""
    return ais_log_normalizer(self.machine(), num_chains=num_chains,
                              num_temperatures=num_temperatures, seed=seed)

  def _refresh_log_normalizer(self, ais_chains, ais_temperatures, seed):
    """Exact when at most 24 units lie outside the largest colour class,
    else AIS."""
    machine = self.machine()
    if machine.num_enumerated_units <= boltzmann_machine.MAX_EXACT_UNITS:
      result = base.LogNormalizer(float(machine.log_normalizer()), 0.,
                                  'exact')
    else:
      ais.check_ais_fits(int(ais_chains), int(ais_temperatures),
                         machine.num_enumerated_units,
                         *distribute.available_bytes(
                             tf.distribute.get_strategy()))
      value, stderr = self._ais(int(ais_chains), int(ais_temperatures),
                                tf.convert_to_tensor(seed, tf.int32))
      result = base.LogNormalizer(
          float(value), float(stderr),
          f'ais ({ais_chains} chains, {ais_temperatures} temperatures)')
    self.log_z_estimate.assign(result.value)
    return result

  def get_config(self):
    config = super().get_config()
    config.update(graph=self.graph.to_dict(), num_chains=self.num_chains,
                  num_gibbs_sweeps=self.num_gibbs_sweeps, seed=self.seed)
    return config
