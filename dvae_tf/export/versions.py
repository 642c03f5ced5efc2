"""Versions of an export in the layout TF Serving watches: `export_dir/<N>/`.

A version is written into a hidden staging folder and renamed into place, so a
server never sees a partial one, and a served version is never overwritten.
"""

import json
import os
import re
import shutil
import tempfile

import tensorflow as tf

from dvae_tf import ranges
from dvae_tf.export.metadata import METADATA_FILE
from dvae_tf.export.requests import PixelFormat, ServingLimits
from dvae_tf.export.signatures import ServingModule

def next_version(export_dir):
  """One more than the largest version folder in `export_dir` (1 if none)."""
  if not os.path.isdir(export_dir):
    return 1
  versions = [int(n) for n in os.listdir(export_dir)
              if re.fullmatch(r'\d+', n)
              and os.path.isdir(os.path.join(export_dir, n))]
  return max(versions, default=0) + 1


def version_path(export_dir, version=None):
  """`export_dir/<version>`, checked to be a new version.

  Args:
    export_dir: the model's base path for TF Serving.
    version: a positive integer (default: `next_version(export_dir)`).

  Raises:
    ValueError: `version` is not a positive int64 (TF Serving reads version
      folders as int64).
    FileExistsError: that version exists.
  """
  if version is None:
    version = next_version(export_dir)
  ranges.check_count('version', version, maximum=ranges.MAX_INT64)
  path = os.path.join(export_dir, str(int(version)))
  if os.path.exists(path):
    raise FileExistsError(
        f'{path} exists: a served version is never overwritten. Leave out '
        f'the version to write the next free one '
        f'({next_version(export_dir)}).')
  return path


def _process_alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def remove_abandoned_staging(export_dir):
  """Removes the hidden staging folders of exports whose process is gone.

  A staging folder is `.<version>-<pid>-<random>`; one left by a killed
  export is never renamed into place, so it is only clutter.
  """
  removed = []
  for name in os.listdir(export_dir):
    match = re.fullmatch(r'\.\d+-(\d+)-.*', name)
    path = os.path.join(export_dir, name)
    if match and os.path.isdir(path) and not _process_alive(
        int(match.group(1))):
      shutil.rmtree(path, ignore_errors=True)
      removed.append(path)
  return removed


def write_saved_model(model, export_dir, metadata, version=None):
  """Writes `model`'s signatures to `export_dir/<version>/`; returns the path.

  The SavedModel is written to a hidden folder and renamed into place, so a
  server watching `export_dir` never sees a partial version.

  Args:
    model: the model to export (see `ServingModule`).
    export_dir: the model's base path for TF Serving.
    metadata: from `build_metadata` (its pixel format and limits are used).
    version: a positive integer (default: `next_version(export_dir)`).

  Returns:
    The path of the new version.
  """
  path = version_path(export_dir, version)
  os.makedirs(export_dir, exist_ok=True)
  remove_abandoned_staging(export_dir)
  staging = tempfile.mkdtemp(
      prefix=f'.{os.path.basename(path)}-{os.getpid()}-', dir=export_dir)
  try:
    os.chmod(staging, 0o755)  # mkdtemp's 0o700 would hide it from a server.
    metadata_path = os.path.join(staging, METADATA_FILE)
    with open(metadata_path, 'w') as f:
      json.dump(metadata, f, indent=2)
    pixels = PixelFormat(metadata['binary_pixels'],
                         metadata['max_pixel_value'])
    module = ServingModule(model, pixels=pixels,
                           limits=ServingLimits.of_metadata(metadata),
                           metadata_path=metadata_path)
    tf.saved_model.save(module, staging, signatures=module.signatures())
    os.rename(staging, path)
  except (OSError, tf.errors.OpError) as e:
    shutil.rmtree(staging, ignore_errors=True)
    reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    raise ValueError(f'Cannot write the SavedModel to {export_dir} '
                     f'({reason}); free disk space, then export again.'
                    ) from None
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return path
