"""Persistent Markov chains for the negative phase of an RBM prior.

Training an RBM prior needs samples from the model p(z) to estimate
grad log Z = E_p[-grad E(z)] (Appendix E notes; `dvae_tf.log_z_gradient`). Persistent contrastive
divergence (Tieleman 2008) keeps a set of chains alive across training steps
and advances each by a few block Gibbs sweeps per step, so the chains track
the slowly changing model instead of restarting from scratch.

`PersistentChains` is a Keras layer whose only weight is the non-trainable
chain state, so a model that owns it saves and restores the chains with its
checkpoints. Under a `tf.distribute` strategy the state is an on-read
variable: each replica advances its own chains, and checkpoints hold the
first replica's.
"""

import keras
import tensorflow as tf

from dvae_tf.distributions import rbm as rbm_lib


class PersistentChains(keras.layers.Layer):
  """The states z [num_chains, num_units] of persistent Gibbs chains."""

  def __init__(self, num_chains, num_units, seed=0, **kwargs):
    """Creates the chain state, initialised to fair coin flips.

    Args:
      num_chains: number of chains.
      num_units: n1 + n2 of the RBM the chains sample.
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

  def advance(self, rbm, num_gibbs_sweeps, seed):
    """Runs `num_gibbs_sweeps` block Gibbs sweeps of `rbm` and stores the result.

    Args:
      rbm: a `dvae_tf.distributions.RBM` with n1 + n2 == `num_units`.
      num_gibbs_sweeps: sweeps per call.
      seed: stateless seed for this call; vary it between steps.

    Returns:
      The new states [num_chains, num_units], with gradients stopped.

    Raises:
      ValueError: if the RBM's size does not match the chains.
    """
    if not isinstance(rbm, rbm_lib.RBM):
      raise TypeError(f'PersistentChains.advance: expected an RBM, got '
                      f'{type(rbm).__name__}.')
    if rbm.num_left + rbm.num_right != self.num_units:
      raise ValueError(
          f'PersistentChains.advance: the chains hold {self.num_units} units '
          f'but the RBM has {rbm.num_left} + {rbm.num_right}.')
    z = tf.stop_gradient(rbm.block_gibbs(
        tf.cast(self.state.value, rbm.dtype), num_gibbs_sweeps, seed))
    self.state.assign(tf.cast(z, self.state.dtype))
    return z

  def get_config(self):
    config = super().get_config()
    config.update(num_chains=self.num_chains, num_units=self.num_units,
                  seed=self.seed)
    return config
