"""The oneDNN heap corruption of strided 1x1 convolutions stays avoided.

TensorFlow 2.18-2.21 (oneDNN on, the default on x86) corrupt the heap in the
backward pass of a 1x1 convolution at stride 2 with at most 8 input channels
and a small batch, on AVX-512 CPUs: the process aborts, segfaults or hangs.
The smallest case seen is 4 -> 4 channels at 16x16, batch 1; the `cpu`
architecture reaches it (8 -> 16 channels at 32x32, batch 3). A
downsampling `ResidualBlock` therefore subsamples and convolves at stride 1
(`ResidualBlock._skip`). Each check runs in fresh processes, with oneDNN as
users get it, since one corrupted heap can take down the interpreter.
"""

import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Forward and backward of downsampling residual blocks at the shapes that
# crashed (input channels, output channels, side, batch), eagerly and in a
# tf.function, many times; the skip path is also checked against the strided
# 1x1 convolution it replaces (forward only, which is not affected).
_SCRIPT = textwrap.dedent("""
    import numpy as np
    import tensorflow as tf
    from dvae_tf.networks import se_resnet

    for cin, cout, side, batch in ((4, 4, 16, 3), (8, 16, 32, 3), (8, 8, 16, 1),
                                   (4, 4, 32, 5)):
      block = se_resnet.ResidualBlock(cout, resample='down')
      x = tf.random.stateless_normal([batch, side, side, cin], seed=[cin, 1])
      block(x)
      kernel, bias = block.projection.kernel, block.projection.bias
      expected = tf.nn.conv2d(x, kernel, strides=2, padding='VALID') + bias
      np.testing.assert_allclose(block._skip(x), expected, rtol=1e-5,
                                 atol=1e-5)

      def step():
        with tf.GradientTape() as tape:
          tape.watch(x)
          loss = tf.reduce_sum(tf.square(block(x)))
        grads = tape.gradient(loss, [x] + block.trainable_variables)
        return tf.add_n([tf.reduce_sum(g) for g in grads])

      graph_step = tf.function(step)
      for _ in range(10):
        assert np.isfinite(step().numpy())
        assert np.isfinite(graph_step().numpy())
    print('clean')
""")


@pytest.mark.parametrize('attempt', range(3))
def test_downsampling_blocks_survive_onednn(attempt):
  del attempt
  env = dict(os.environ, PYTHONPATH=REPO)
  env.pop('TF_ENABLE_ONEDNN_OPTS', None)  # The users' default: oneDNN on.
  result = subprocess.run([sys.executable, '-c', _SCRIPT], env=env,
                          capture_output=True, text=True, timeout=300,
                          check=False)
  assert result.returncode == 0 and 'clean' in result.stdout, (
      f'exit status {result.returncode}:\n{result.stderr[-3000:]}')
