"""Persistent Markov chains for the negative phase of a Boltzmann prior.

Training a Boltzmann-machine prior (the RBM of Sec. 5 or one on any graph) needs samples from the model p(z) to estimate
grad log Z = E_p[-grad E(z)] (Appendix E notes; `dvae_tf.math.log_z_gradient`). Persistent contrastive
divergence (Tieleman 2008) keeps a set of chains alive across training steps
and advances each by a few block Gibbs sweeps per step, so the chains track
the slowly changing model instead of restarting from scratch.

`PersistentChains` is a Keras layer whose only weight is the non-trainable
chain state, so a model that owns it saves and restores the chains with its
checkpoints.

Under a `tf.distribute` strategy with R replicas the `num_chains` chains are
global, like the batch: replica r advances its own rows
(`distribute.replica_rows`) of its copy of the state (an on-read variable),
and `gather_replicas` (called before each save) makes every copy whole, so a
checkpoint holds every replica's chains. Restored onto another replica count,
the same chains are split anew; a resume is exact only on the same count,
whose replicas continue their own rows with their own random streams.
"""

import keras
import tensorflow as tf

from dvae_tf import distribute
from dvae_tf.distributions import boltzmann_machine


class PersistentChains(keras.layers.Layer):
  """The states z [num_chains, num_units] of persistent Gibbs chains."""

  def __init__(self, num_chains, num_units, seed=0, **kwargs):
    """Creates the chain state, initialised to fair coin flips.

    Args:
      num_chains: number of chains.
      num_units: units of the Boltzmann machine the chains sample.
      seed: int, seeds the initial states.
      **kwargs: passed to `keras.layers.Layer` (e.g. `name`).

    Raises:
      ValueError: if `num_chains` or `num_units` is not a positive integer.
    """
    super().__init__(**kwargs)
    for arg, value in (('num_chains', num_chains), ('num_units', num_units)):
      if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f'PersistentChains: `{arg}` must be a positive '
                         f'integer; got {value!r}.')
    self.num_chains = num_chains
    self.num_units = num_units
    self.seed = seed
    initial = tf.cast(
        tf.random.stateless_uniform([num_chains, num_units], seed=[seed, 0]) <
        0.5, tf.float32)
    self.state = keras.Variable(
        initial, trainable=False, name='state',
        synchronization='on_read', aggregation='only_first_replica')

  def advance(self, machine, num_gibbs_sweeps, seed):
    """Runs `num_gibbs_sweeps` block Gibbs sweeps of `machine`, stores them.

    Args:
      machine: a `dvae_tf.distributions.BoltzmannMachine` (or `RBM`) with
        `num_units` units.
      num_gibbs_sweeps: sweeps per call.
      seed: stateless seed for this call; vary it between steps.

    Returns:
      The new states [num_chains, num_units], with gradients stopped.

    Raises:
      TypeError: if `machine` is not a Boltzmann machine.
      ValueError: if the machine's size does not match the chains.
    """
    if not isinstance(machine, boltzmann_machine.BoltzmannMachine):
      raise TypeError(f'PersistentChains.advance: expected a '
                      f'BoltzmannMachine, got {type(machine).__name__}.')
    if machine.num_units != self.num_units:
      raise ValueError(
          f'PersistentChains.advance: the chains hold {self.num_units} units '
          f'but the machine has {machine.num_units}.')
    first, rows, num_replicas = self._replica_rows()
    state = self.state.value
    if num_replicas > 1:
      state = state[first:first + rows]
    z = tf.stop_gradient(machine.block_gibbs(
        tf.cast(state, machine.dtype), num_gibbs_sweeps, seed))
    new_state = tf.cast(z, self.state.dtype)
    if num_replicas > 1:
      new_state = tf.concat([self.state.value[:first], new_state,
                             self.state.value[first + rows:]], axis=0)
    self.state.assign(new_state)
    return z

  def _replica_rows(self):
    """(first row, rows, replicas) of this replica's chains."""
    context = tf.distribute.get_replica_context()
    num_replicas = context.num_replicas_in_sync if context else 1
    distribute.check_divisible('num_chains', self.num_chains, num_replicas)
    if num_replicas == 1:
      return 0, self.num_chains, 1
    first, rows = distribute.replica_rows(
        self.num_chains, context.replica_id_in_sync_group, num_replicas)
    return first, rows, num_replicas

  def gather_replicas(self):
    """Copies every replica's rows into every replica's state (in replica
    context; an all-gather across replicas and workers)."""
    first, rows, num_replicas = self._replica_rows()
    if num_replicas == 1:
      return
    context = tf.distribute.get_replica_context()
    own = self.state.value[first:first + rows]
    self.state.assign(context.all_gather(own, axis=0))

  def get_config(self):
    config = super().get_config()
    config.update(num_chains=self.num_chains, num_units=self.num_units,
                  seed=self.seed)
    return config
