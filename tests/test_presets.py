"""Presets: every one builds a valid config; betas follow the dataset."""

import pytest

from dvae_tf import presets
from dvae_tf import training
from dvae_tf.models import config as config_lib

# The released code's betas (Appendix F notes), written out row by row:
# (preset, dataset) -> beta.
RELEASED = {
    ('repro_rbm_1_nonlin', 'mnist_dynamic'): 14.,
    ('repro_rbm_1_nonlin', 'omniglot'): 12.,
    ('repro_rbm_2_nonlin', 'omniglot'): 10.,
    ('repro_rolfe_1_nonlin', 'mnist_static'): 5.,
    ('repro_rolfe_1_nonlin', 'omniglot'): 4.,
    ('repro_rolfe_2_nonlin', 'mnist_dynamic'): 4.,
    ('repro_directed_joint_1_nonlin', 'omniglot'): 12.,
    ('repro_directed_marginal_2_nonlin', 'omniglot'): 10.,
    ('repro_marginal_power_1_nonlin', 'mnist_dynamic'): 30.,
    ('repro_marginal_power_1_nonlin', 'omniglot'): 40.,
    ('table2_rbm_1_nonlin', 'omniglot'): 12.,
    ('repro_concrete_1_nonlin', 'omniglot'): 1.5,
}


@pytest.mark.parametrize('name', sorted(presets.PRESETS))
def test_every_preset_builds_its_configs(name):
  preset = presets.get_preset(name)
  kind = presets.model_kind(name)
  config_lib.config_class(kind)(**preset['model'])
  training.TrainConfig(**preset['train'])


@pytest.mark.parametrize('key', sorted(RELEASED))
def test_released_beta_follows_the_dataset(key):
  name, dataset = key
  train = presets.get_preset(name, dataset)['train']
  assert train['dataset'] == dataset
  assert train['beta_start'] == train['beta_end'] == RELEASED[key]


def test_default_dataset_keeps_the_mnist_beta():
  assert presets.get_preset('repro_rbm_1_nonlin')['train']['beta_start'] == 14.


def test_annealed_and_unkeyed_presets_ignore_the_dataset():
  table1 = presets.get_preset('repro_table1_joint_exp_1_nonlin', 'omniglot')
  assert (table1['train']['beta_start'], table1['train']['beta_end']) == (
      6., 14.)
  demo = presets.get_preset('demo', 'omniglot')['train']
  assert demo['beta_start'] == demo['beta_end'] == 10.


def test_get_preset_returns_a_copy():
  presets.get_preset('repro_rbm_1_nonlin', 'omniglot')['train']['seed'] = 9
  assert presets.get_preset('repro_rbm_1_nonlin')['train'].get('seed') != 9
  assert presets.get_preset('repro_rbm_1_nonlin')['train']['dataset'] == (
      'mnist_dynamic')


def test_unknown_preset_names_the_choices():
  with pytest.raises(ValueError, match='choose one of'):
    presets.get_preset('no_such_row')
