"""Exports a trained model as a SavedModel for sampling and TF Serving.

  dvae-export --run_dir=runs/demo --export_dir=exports/dvae

Writes <export_dir>/<version>/ (the next free version unless --version is
given) with the signatures sample (serving_default), encode, reconstruct and
log_likelihood, and metadata.json; see dvae_tf/export.py and
export/README.md for serving it.
"""

import json
import os

from absl import flags

from dvae_tf.binaries import cli
from dvae_tf import export

FLAGS = flags.FLAGS
cli.define_run_flags('export')
flags.DEFINE_string('export_dir', None, 'Base path of the served model; the '
                    'SavedModel goes into a numbered version folder.',
                    required=True)
flags.DEFINE_integer('version', None, 'Version number (default: the next '
                     'free one).')
cli.define_ais_flags()
flags.DEFINE_integer('seed', 0, 'AIS seed (as in bin/evaluate.py).')
cli.define_config_flags(export.ServingLimits)


def main(argv):
  del argv
  path = export.export(FLAGS.run_dir, FLAGS.export_dir,
                       version=FLAGS.version, data_dir=FLAGS.data_dir,
                       ais_chains=FLAGS.ais_chains,
                       ais_temperatures=FLAGS.ais_temperatures,
                       seed=FLAGS.seed, checkpoint=FLAGS.checkpoint,
                       limits=cli.config_from_flags(export.ServingLimits, {}))
  with open(os.path.join(path, export.METADATA_FILE)) as f:
    metadata = json.load(f)
  print(f'Exported step {metadata["step"]} to {path} (log Z '
        f'{metadata["log_z"]:.4f}, {metadata["log_z_method"]}).')


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
