"""What the binaries share: user errors as one clear line, flags from configs.

`run(main)` is `absl.app.run(main)`, except that the errors a user can cause
and fix (a missing or malformed dataset file or model directory, an invalid
flag value or configuration, a diverged run, a failed save, a locked
directory) print one line, `error: <what was wrong and what to do>`, on
stderr and exit with status 1 (2 for flags that do not parse), instead of a
traceback or pages of flag help. Every message raised for these cases in
dvae_tf already names the input and the fix. TensorFlow's and absl's
informational logging is turned down so that it does not interleave with
progress output.

`define_config_flags(cls)` defines one flag per field of a config dataclass,
with the field's default and the help text of its docstring's `Attributes:`
section, so a default lives only in the config class; `config_from_flags`
builds the config from a preset's values and the flags given explicitly.
`define_strategy_flags` and `strategy_from_flags` give train, evaluate and
the benchmark the same --strategy flags (`dvae_tf.distribute`);
`define_run_flags` and `define_ais_flags` give the binaries that restore a
trained run (evaluate, sample, export) the same --run_dir, --data_dir,
--checkpoint, --ais_chains and --ais_temperatures.
"""

import dataclasses
import re
import sys

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from dvae_tf import distribute
from dvae_tf import training
from dvae_tf.distributions.ais import PAPER_AIS_TEMPERATURES, PAPER_AIS_CHAINS

USER_ERRORS = (FileNotFoundError, FileExistsError, ValueError,
               distribute.StrategyError,
               training.TrainingDivergedError, training.CheckpointSaveError,
               app.UsageError)

_DEFINE = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer,
           float: flags.DEFINE_float, str: flags.DEFINE_string}


def _one_line(error):
  return ' '.join(str(error).split()) or type(error).__name__


def parse_flags(argv):
  """absl's flag parsing, with a bad flag as one `error:` line (status 2)."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f'error: {_one_line(e)} (see --help for the flags)',
          file=sys.stderr)
    sys.exit(2)


def run(main):
  """`app.run(main)` with USER_ERRORS reported as `error: ...`, exit 1."""

  def guarded(argv):
    logging.set_verbosity(logging.WARNING)
    try:
      return main(argv)
    except USER_ERRORS as e:
      print(f'error: {_one_line(e)}', file=sys.stderr)
      sys.exit(1)

  app.run(guarded, flags_parser=parse_flags)


def field_docs(cls):
  """{field: one-line help} from the `Attributes:` sections of cls's docstrings.

  Entries are `name: text` (or `a, b: text` for several fields) indented
  under `Attributes:`, continuing on more deeply indented lines. Fields of a
  base class are documented in the base class's docstring.
  """
  docs = {}
  for klass in reversed(cls.__mro__):
    docs.update(_attribute_docs(klass.__doc__ or ''))
  return docs


def _attribute_docs(doc):
  """{field: one-line help} from one docstring's `Attributes:` section."""
  section = doc.split('Attributes:', 1)[1] if 'Attributes:' in doc else ''
  docs, names = {}, []
  for line in section.splitlines():
    entry = re.match(r'^\s{2,6}([a-z_0-9, ]+):\s*(.*)$', line)
    if entry:
      names = [n.strip() for n in entry.group(1).split(',')]
      for name in names:
        docs[name] = entry.group(2).strip()
    elif line.strip() and names:
      for name in names:
        docs[name] += ' ' + line.strip()
    elif not line.strip() and docs:
      names = []
  return docs


def define_config_flags(cls, skip=()):
  """Defines a flag for each field of dataclass `cls` not yet defined.

  The flag's default is the field's, its help the field's docstring entry.
  Fields in `skip`, and fields another config already defined (shared fields
  such as `num_chains` have one flag), are left out.
  """
  docs = field_docs(cls)
  for field in dataclasses.fields(cls):
    if field.name in skip or field.name in flags.FLAGS:
      continue
    default = field.default
    define = _DEFINE.get(field.metadata.get('flag_type', type(default)))
    if define is None:
      raise TypeError(f'{cls.__name__}.{field.name}: no flag type for '
                      f'{type(default).__name__} defaults.')
    define(field.name, default, docs.get(field.name, field.name))


def config_from_flags(cls, preset_values):
  """`cls` from `preset_values`, overridden by the flags given explicitly."""
  values = dict(preset_values)
  for field in dataclasses.fields(cls):
    if field.name in flags.FLAGS and flags.FLAGS[field.name].present:
      values[field.name] = flags.FLAGS[field.name].value
  return cls(**values)


def define_run_dir_flag(help_text, flag_values=flags.FLAGS):
  """--run_dir (required): the run directory (`dvae_tf.run_directory`).

  --model_dir, its earlier name, stays an alias so that older commands run.
  """
  flags.DEFINE_string('run_dir', None, help_text, required=True,
                      flag_values=flag_values)
  flags.DEFINE_alias('model_dir', 'run_dir', flag_values=flag_values)


def define_run_flags(verb):
  """--run_dir (required), --data_dir and --checkpoint of a binary that
  restores a trained run to `verb` (score, sample, export) it."""
  define_run_dir_flag('A directory written by bin/train.py.')
  flags.DEFINE_string('data_dir', None, 'Folder with the dataset files.')
  flags.DEFINE_string('checkpoint', None, f'The checkpoint to {verb} '
                      '(ckpt-N, or best: the best validation score; '
                      'default: the newest).')


def define_ais_flags():
  """--ais_chains and --ais_temperatures: the AIS estimate of log Z (Sec. 7; the
  paper's 1024 chains and 1000 inverse temperatures by default)."""
  flags.DEFINE_integer('ais_chains', PAPER_AIS_CHAINS,
                       'AIS chains when log Z is not exact.')
  flags.DEFINE_integer('ais_temperatures', PAPER_AIS_TEMPERATURES,
                       'AIS inverse temperatures.')


def define_strategy_flags():
  """--strategy, --cpu_devices, --deterministic_ops, --cluster_timeout and
  the old --multi_gpu."""
  flags.DEFINE_enum('strategy', 'default', list(distribute.STRATEGIES),
                    'default: one device; mirrored: all local GPUs '
                    '(MirroredStrategy); multi_worker: '
                    'MultiWorkerMirroredStrategy, cluster from TF_CONFIG.')
  flags.DEFINE_integer('cpu_devices', 0, 'With --strategy=mirrored on a '
                       'machine without GPUs: mirror over N logical CPU '
                       'devices (tests, overhead benchmarks).')
  flags.DEFINE_bool('deterministic_ops', False, 'Enable TensorFlow op '
                    'determinism (bit-identical reruns on GPUs, slower).')
  flags.DEFINE_bool('multi_gpu', False, 'Same as --strategy=mirrored.')
  flags.DEFINE_float('cluster_timeout', distribute.CLUSTER_TIMEOUT,
                     'With --strategy=multi_worker: seconds to wait for every '
                     'worker of TF_CONFIG to connect before ending with one '
                     'line (status 137).')


def strategy_from_flags():
  """The strategy the flags of `define_strategy_flags` ask for (call first)."""
  name = flags.FLAGS.strategy
  if flags.FLAGS.multi_gpu:
    if flags.FLAGS['strategy'].present and name != 'mirrored':
      raise distribute.StrategyError(
          f'--multi_gpu means --strategy=mirrored, not --strategy={name}; '
          'give only --strategy.')
    name = 'mirrored'
  if flags.FLAGS.deterministic_ops:
    tf.config.experimental.enable_op_determinism()
  return distribute.make_strategy(
      name, cpu_devices=flags.FLAGS.cpu_devices,
      cluster_timeout=flags.FLAGS.cluster_timeout)
