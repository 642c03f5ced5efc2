"""Adam with one fused kernel per variable.

The update is Keras' Adam (Kingma and Ba 2015, Algorithm 1 with the
"epsilon hat" of Sec. 2): with g the gradient at step t,

    m <- m + (1 - beta_1) (g - m),   v <- v + (1 - beta_2) (g^2 - v),
    theta <- theta - lr sqrt(1 - beta_2^t) / (1 - beta_1^t) m / (sqrt(v) + eps).

Keras computes it with about twenty small ops per variable, which on a CPU
cost more than the arithmetic for the networks of Tables 1 and 2; here it is
TensorFlow's `ResourceApplyAdam` kernel, the same formula in one op. Its
scalar operands (lr, beta_1, beta_2, beta_1^t, beta_2^t, eps) are computed
once per update for each dtype and device, not once per variable. The
optimizer's variables (`m`, `v`, `iterations`) are Keras', so checkpoints are
interchangeable with `keras.optimizers.Adam`.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package='dvae_tf')
class Adam(keras.optimizers.Adam):
  """`keras.optimizers.Adam` whose update step is one `ResourceApplyAdam`."""

  def _backend_update_step(self, grads, trainable_variables, learning_rate):
    # One update's scalar operands, shared by its variables (`_scalars`).
    self.__dict__['_update_scalars'] = {}
    try:
      return super()._backend_update_step(grads, trainable_variables,
                                          learning_rate)
    finally:
      self.__dict__['_update_scalars'] = None

  def _scalars(self, learning_rate, variable):
    """`ResourceApplyAdam`'s scalar operands for `variable`'s dtype, made once
    per update and device."""
    cache = self.__dict__.get('_update_scalars')
    key = (tf.as_dtype(variable.dtype), variable.device)
    if cache is not None and key in cache:
      return cache[key]
    dtype = key[0]
    step = tf.cast(self.iterations + 1, dtype)
    beta_1 = tf.cast(self.beta_1, dtype)
    beta_2 = tf.cast(self.beta_2, dtype)
    scalars = dict(beta1_power=tf.pow(beta_1, step),
                   beta2_power=tf.pow(beta_2, step),
                   lr=tf.cast(learning_rate, dtype), beta1=beta_1,
                   beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype))
    if cache is not None:
      cache[key] = scalars
    return scalars

  def update_step(self, gradient, variable, learning_rate):
    index = self._get_variable_index(variable)
    m, v = self._momentums[index], self._velocities[index]
    if self.amsgrad or not all(hasattr(x, 'handle') for x in (
        variable, m.value, v.value)):
      return super().update_step(gradient, variable, learning_rate)
    return tf.raw_ops.ResourceApplyAdam(
        var=variable.handle, m=m.value.handle, v=v.value.handle,
        grad=tf.cast(gradient, variable.dtype),
        **self._scalars(learning_rate, variable))
