"""The DVAE++ training step (Sec. 6) as users run it, and where its time goes.

For the reduced-width preset (`dvaepp_cpu`) and the full MNIST preset
(`table3_dvaepp_mnist_dynamic`), on the bundled MNIST sample (the same 28x28
images, so no dataset file is needed):

- `images_per_s`: the training step exactly as `training.train` runs it
  (`make_train_step` on the input pipeline, then the per-step read of its
  metrics), averaged over the timed steps;
- `train_py_images_per_s`: `bin/train.py`'s own `steps_per_second` for the
  same preset, in a subprocess run between the two halves of the timed
  steps (the last log interval, after compilation),
  the check that this benchmark measures what users run;
- `*_ms`: the step split into parts by a profiler trace of the same steps.
  Each op's time goes to the part its name scope belongs to (encoder,
  local groups, decoder, RBM Gibbs sampling, optimizer, other), the runs of
  XLA-compiled functions (Gibbs sweeps, the smoothing's quantile, the pixel
  likelihood) to `xla_compiled`; the parts are scaled to the measured step,
  so they sum to it;
- `gflop_per_step` (TensorFlow's profiler: convolutions and matrix products,
  forward and backward) and the rate achieved, beside `plain_conv_gflop_s`:
  3x3 convolutions at the model's stage shapes (batch, resolution, width),
  forward and both backward products, timed in the same process.
"""

import collections
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from dvae_tf import data
from dvae_tf import presets
from dvae_tf import run_directory
from dvae_tf import training
from dvae_tf.benchmarks import timing
from dvae_tf.models import config as config_lib

PRESETS = ('dvaepp_cpu', 'table3_dvaepp_mnist_dynamic')
# Name-scope prefixes of each part (the Keras layers' names in `DVAEpp`).
PARTS = {
    'encoder': ('encoder_stage', 'global_net', 'global_posterior'),
    'local_groups': ('local_', 'global_lift'),
    'decoder': ('decoder_stage', 'head_'),
    'gibbs': ('persistent_chains', 'RBM', 'block_gibbs'),
    'optimizer': ('ResourceApplyAdam', 'adam', 'Adam'),
}
_XLA_RUN = 'CpuExecutable::ExecuteAsyncOnStream'


def _part(op_name):
  """The part an op's name (scope/.../name:type) belongs to."""
  scope = op_name.split(':')[0]
  if scope.startswith('gradient_tape/'):
    scope = scope[len('gradient_tape/'):]
  for part, prefixes in PARTS.items():
    if any(scope.startswith(p) or f'/{p}' in scope or
           op_name.endswith(f':{p}') for p in prefixes):
      return part
  return 'other'


def _op_seconds_by_part(run_steps, num_steps):
  """Seconds per step of every part, summed over the ops of a trace."""
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as logdir:
    tf.profiler.experimental.start(logdir)
    run_steps(num_steps)
    tf.profiler.experimental.stop()
    path = glob.glob(os.path.join(logdir, '**', '*.xplane.pb'),
                     recursive=True)[0]
    space = xplane_pb2.XSpace()
    with open(path, 'rb') as f:
      space.ParseFromString(f.read())
  seconds = collections.Counter()
  for plane in space.planes:
    if plane.name != '/host:CPU':
      continue
    names = {k: v.name for k, v in plane.event_metadata.items()}
    for line in plane.lines:
      if not line.name.startswith('tf_Compute'):
        continue
      for event in line.events:
        name = names.get(event.metadata_id, '')
        # Ops are `name:type`; an XLA-compiled function (the Gibbs sweeps,
        # the smoothing's quantile, the fused pixel likelihood) is one
        # executable run; other `Class::Method` events are the executor's.
        if name == _XLA_RUN:
          part = 'xla_compiled'
        elif ':' in name and '::' not in name:
          part = _part(name)
        else:
          continue
        seconds[part] += event.duration_ps * 1e-12 / num_steps
  return seconds


def _step_gflop(step, iterator):
  """GFLOP of one step's graph, by TensorFlow's (v1) profiler."""
  graph = step.get_concrete_function(iterator).graph
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options['output'] = 'none'
  stats = tf.compat.v1.profiler.profile(graph, options=options)
  return stats.total_float_ops / 1e9


def _plain_conv_gflop_s(model, batch, repeats):
  """GFLOP/s of 3x3 convolutions (forward, input and filter gradients) at
  the model's stage shapes, weighted by their FLOPs."""
  side = model.pyramid.padded_size
  total_flop, total_seconds = 0., 0.
  for stage, width in enumerate(model.architecture.channels):
    res = side // 2**stage
    x = tf.random.stateless_normal([batch, res, res, width], seed=[stage, 1])
    kernel = tf.Variable(tf.random.stateless_normal([3, 3, width, width],
                                                    seed=[stage, 2]) * 0.05)

    @tf.function
    def conv(x=x, kernel=kernel):
      with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.conv2d(x, kernel, 1, 'SAME')
      return tape.gradient(y, [x, kernel], output_gradients=y)

    flop = 3 * 2 * batch * res * res * width * width * 9
    seconds = timing.interleaved_seconds({'conv': conv}, repeats=repeats,
                                         warmup=2, inner=5)['conv']
    total_flop += flop
    total_seconds += seconds
  return total_flop / total_seconds / 1e9


def _train_py_steps_per_second(preset_name, num_steps, overrides):
  """steps/s that bin/train.py reports for the preset (after compilation)."""
  flags_ = [f'--{k}={v}' for k, v in overrides.items()]
  with tempfile.TemporaryDirectory() as run_dir:
    result = subprocess.run(
        [sys.executable, '-m', 'dvae_tf.binaries.train',
         '--model=dvaepp', f'--preset={preset_name}', '--dataset=sample',
         f'--run_dir={run_dir}', f'--num_steps={num_steps}',
         f'--log_every={num_steps // 2}', f'--checkpoint_every={10**6}',
         '--image_every=0', '--log_z_every=0'] + flags_,
        capture_output=True, text=True, check=False)
  lines = [l for l in result.stdout.splitlines() if '"steps_per_second"' in l]
  if result.returncode or not lines:
    raise RuntimeError(f'bin/train.py failed: {result.stderr[-2000:]}')
  return json.loads(lines[-1])['steps_per_second']


def _row(preset_name, timed_steps, train_py_steps, overrides=None,
         batch_size=None):
  preset = presets.get_preset(preset_name)
  overrides = dict(overrides or {})
  model_config = config_lib.config_from_dict(dict(preset['model'],
                                                  **overrides))
  train_config = training.TrainConfig(**dict(
      preset['train'], dataset='sample',
      batch_size=batch_size or preset['train']['batch_size']))
  strategy = tf.distribute.get_strategy()
  model, optimizer = run_directory.build_model_and_optimizer(
      model_config, train_config, None, strategy)
  step = training.make_train_step(model, optimizer, train_config, strategy)
  iterator = iter(strategy.experimental_distribute_dataset(data.make_dataset(
      'sample', 'train', train_config.batch_size, seed=0)))

  def run_steps(n):
    times = []
    for _ in range(n):
      start = time.perf_counter()
      training.read_metrics(step(iterator))
      times.append(time.perf_counter() - start)
    return times

  run_steps(2)  # Tracing and compilation.
  # A mean, as bin/train.py's steps per second is; interleaved with the
  # bin/train.py run (half the timed steps before it, half after), so both
  # see the same state of the machine.
  times = run_steps(timed_steps // 2)
  train_py_steps_per_s = None
  if train_py_steps:
    train_py_steps_per_s = _train_py_steps_per_second(
        preset_name, train_py_steps,
        dict(overrides, batch_size=train_config.batch_size))
  times += run_steps(timed_steps - timed_steps // 2)
  step_s = float(np.mean(times))
  parts = _op_seconds_by_part(run_steps, max(2, timed_steps // 2))
  op_total = sum(parts.values())
  gflop = _step_gflop(step, iterator)
  batch = train_config.batch_size
  row = {
      'preset': preset_name,
      'batch': batch,
      'channels': 'x'.join(map(str, model.architecture.channels)),
      'local_groups': model.num_local_groups,
      'steps_per_s': 1. / step_s,
      'images_per_s': batch / step_s,
  }
  if train_py_steps_per_s:
    row['train_py_images_per_s'] = batch * train_py_steps_per_s
    row['train_py_ratio'] = row['train_py_images_per_s'] / row['images_per_s']
  row.update({f'{part}_ms': 1e3 * step_s * parts[part] / op_total
              for part in list(PARTS) + ['xla_compiled', 'other']})
  row.update(gflop_per_step=gflop, achieved_gflop_s=gflop / step_s,
             plain_conv_gflop_s=_plain_conv_gflop_s(model, batch, repeats=3))
  row['fraction_of_plain_conv_rate'] = (row['achieved_gflop_s'] /
                                        row['plain_conv_gflop_s'])
  return row


def dvaepp_suite(quick=False, data_dir=None, **unused_options):
  """Images/s, step parts, FLOP rates of the reduced and full MNIST presets.

  `quick` shrinks both models (width 4, 2 local groups, batch 8) to a smoke
  test of the suite itself: its numbers are not a measurement.
  """
  del data_dir  # The bundled sample stands in for MNIST (same image shape).
  if quick:
    rows = [_row(name, timed_steps=2, train_py_steps=4, batch_size=8,
                 overrides=dict(channels=4, num_local_groups=2,
                                num_chains=16, num_gibbs_sweeps=2))
            for name in PRESETS]
  else:
    rows = [_row('dvaepp_cpu', timed_steps=60, train_py_steps=120),
            _row('table3_dvaepp_mnist_dynamic', timed_steps=20,
                 train_py_steps=40)]
  return {'tables': {'training_step': rows},
          'summary': {row['preset']: {
              'images_per_s': row['images_per_s'],
              'train_py_images_per_s': row.get('train_py_images_per_s'),
              'train_py_ratio': row.get('train_py_ratio'),
              'fraction_of_plain_conv_rate':
                  row['fraction_of_plain_conv_rate']} for row in rows}}
