"""Benchmark reports: a printed table and a JSON file with the environment."""

import json
import os
import platform

import tensorflow as tf

import dvae_tf
from dvae_tf import cpu


def environment():
  """What the numbers were measured on."""
  return {
      'dvae_tf': dvae_tf.__version__,
      'tensorflow': tf.__version__,
      'python': platform.python_version(),
      'machine': platform.machine(),
      'cpu': cpu.describe(),
      'cpu_count': os.cpu_count(),
      'gpus': [d.name for d in tf.config.list_physical_devices('GPU')],
  }


def format_table(rows):
  """Formats a list of flat dicts (same keys) as an aligned text table."""
  if not rows:
    return ''
  keys = list(rows[0])
  cells = [[_format(row.get(k)) for k in keys] for row in rows]
  widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
  lines = ['  '.join(k.ljust(w) for k, w in zip(keys, widths))]
  lines.append('  '.join('-' * w for w in widths))
  lines += ['  '.join(c.ljust(w) for c, w in zip(cell, widths)) for cell in cells]
  return '\n'.join(lines)


def _format(value):
  if isinstance(value, float):
    return f'{value:.4g}'
  return str(value)


def write_report(report_dir, suite, report, command):
  """Writes `report` (with environment and command) to report_dir/benchmark_<suite>.json."""
  os.makedirs(report_dir, exist_ok=True)
  path = os.path.join(report_dir, f'benchmark_{suite}.json')
  with open(path, 'w') as f:
    json.dump({'suite': suite, 'command': command, 'environment': environment(),
               **report}, f, indent=2)
  return path
