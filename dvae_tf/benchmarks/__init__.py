"""Benchmark suites: each measures ratios within one run and returns a report.

A suite is a function `suite(quick: bool, data_dir: str, **options) -> dict`
registered in `SUITES` (options: `reference_python`, `reference_script`, which
only the training suite uses, and `strategy`, which only the scaling suite
uses: the other suites time one device);
`bin/benchmark.py` runs the chosen suites, prints their tables and writes one
JSON report per suite.
"""

from dvae_tf.benchmarks.boltzmann import boltzmann_suite
from dvae_tf.benchmarks.distributions import distributions_suite
from dvae_tf.benchmarks.dvaepp import dvaepp_suite
from dvae_tf.benchmarks.evaluation import evaluation_suite
from dvae_tf.benchmarks.export import export_suite
from dvae_tf.benchmarks.gpu import gpu_suite
from dvae_tf.benchmarks.gradient_variance import gradient_variance_suite
from dvae_tf.benchmarks.presets import presets_suite
from dvae_tf.benchmarks.report import format_table, write_report
from dvae_tf.benchmarks.scaling import scaling_suite
from dvae_tf.benchmarks.training import training_suite
from dvae_tf.benchmarks.training import xla_chains_suite

SUITES = {
    'boltzmann': boltzmann_suite,
    'distributions': distributions_suite,
    'dvaepp': dvaepp_suite,
    'evaluation': evaluation_suite,
    'export': export_suite,
    'gpu': gpu_suite,
    'gradient_variance': gradient_variance_suite,
    'presets': presets_suite,
    'scaling': scaling_suite,
    'training': training_suite,
    'xla_chains': xla_chains_suite,
}

__all__ = ['SUITES', 'format_table', 'write_report']
