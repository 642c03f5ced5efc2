"""The report's tables come from the tracked evaluation files."""

import json
import os

import numpy as np
import pytest

from dvae_tf.evaluation import reproduction


def _write_run(runs_dir, name, nll):
  run = os.path.join(runs_dir, name)
  os.makedirs(run)
  with open(os.path.join(run, 'eval_test.json'), 'w') as f:
    json.dump({'nll': float(nll.mean()),
               'stderr': float(nll.std(ddof=1) / np.sqrt(len(nll))),
               'num_images': len(nll), 'num_importance_samples': 10}, f)
  np.save(os.path.join(run, 'eval_test_nll.npy'), nll)


@pytest.fixture
def runs(tmp_path, rng):
  difficulty = rng.normal(100., 10., size=400)
  for seed in (1, 2, 3):
    _write_run(tmp_path, f'a/s{seed}', difficulty + rng.normal(0, 1, 400))
    _write_run(tmp_path, f'b/s{seed}',
               difficulty + 1. + rng.normal(0, 1, 400))
  spec = {'tables': [{'name': 't', 'rows': [
      {'label': 'A', 'runs': ['a/s1', 'a/s2', 'a/s3'], 'paper': 90.0},
      {'label': 'B', 'runs': ['b/s1', 'b/s2', 'b/s3'], 'paper': 91.0}]}],
          'orderings': [{'better': 'A', 'worse': 'B'},
                        {'better': 'B', 'worse': 'A'}]}
  return str(tmp_path), spec


def test_rows_are_means_and_sds_over_seeds(runs):
  runs_dir, spec = runs
  nlls = [json.load(open(os.path.join(runs_dir, f'a/s{s}', 'eval_test.json')))
          ['nll'] for s in (1, 2, 3)]
  summary = reproduction.row_summary(runs_dir, ['a/s1', 'a/s2', 'a/s3'])
  np.testing.assert_allclose(summary['nll'], np.mean(nlls))
  np.testing.assert_allclose(summary['sd'], np.std(nlls, ddof=1))
  assert summary['seeds'] == 3


def test_orderings_use_paired_differences(runs):
  runs_dir, spec = runs
  a_better = reproduction.ordering_summary(runs_dir, ['a/s1', 'a/s2'],
                                           ['b/s1', 'b/s2'])
  assert a_better['holds'] and not a_better['reversed']
  np.testing.assert_allclose(a_better['difference'], -1., atol=0.3)
  assert a_better['paired_stderr'] < 0.2  # Far below either row's own.
  b_better = reproduction.ordering_summary(runs_dir, ['b/s1'], ['a/s1'])
  assert b_better['reversed'] and not b_better['holds']


def test_orderings_pair_runs_of_the_same_seed(runs):
  """Rows that lack different seeds pair only the seeds both have."""
  runs_dir, _ = runs
  summary = reproduction.ordering_summary(runs_dir, ['a/s1', 'a/s3'],
                                          ['b/s2', 'b/s3'])
  only = reproduction.ordering_summary(runs_dir, ['a/s3'], ['b/s3'])
  assert summary['per_seed'] == only['per_seed']
  assert reproduction._seed_of('t3/x/seed2/k1000') == 'seed2'  # pylint: disable=protected-access
  with pytest.raises(ValueError, match='share no seed'):
    reproduction.ordering_summary(runs_dir, ['a/s1'], ['b/s2'])


def test_report_sections_are_rewritten_and_checked(runs, tmp_path):
  runs_dir, spec = runs
  report = tmp_path / 'REPORT.md'
  report.write_text('intro\n<!-- table:t -->\nstale\n<!-- /table:t -->\n'
                    '<!-- table:orderings -->\n<!-- /table:orderings -->\n'
                    '<!-- table:orderings_count -->\n'
                    '<!-- /table:orderings_count -->\nend\n')
  sections = reproduction.render(spec, runs_dir)
  assert reproduction.update_report(str(report), sections)
  text = report.read_text()
  assert 'stale' not in text and '| A | 90.00 |' in text
  assert '| A < B |' in text and '| yes |' in text and '| reversed |' in text
  assert ('Orderings checked: 2 (holds: 1, reversed: 1, not resolved: 0).'
          in text)
  assert not reproduction.update_report(str(report), sections)
  with pytest.raises(ValueError, match='no section <!-- table:t -->'):
    reproduction.updated_text('no markers', sections)


def test_orderings_count_names_the_single_seed_ones(runs):
  runs_dir, _ = runs
  spec = {'tables': [{'name': 't', 'rows': [
      {'label': 'A', 'runs': ['a/s1']}, {'label': 'B', 'runs': ['b/s1']},
      {'label': 'A3', 'runs': ['a/s1', 'a/s2', 'a/s3']},
      {'label': 'B3', 'runs': ['b/s1', 'b/s2', 'b/s3']}]}],
          'orderings': [{'better': 'A', 'worse': 'B'},
                        {'better': 'A3', 'worse': 'B3'}]}
  assert reproduction.render(spec, runs_dir)['orderings_count'] == (
      'Orderings checked: 2 (holds: 2, reversed: 0, not resolved: 0; 1 of '
      'them on one seed).')


def test_an_ordering_of_an_unknown_row_is_named(runs):
  runs_dir, spec = runs
  spec['orderings'] = [{'better': 'A', 'worse': 'C'}]
  with pytest.raises(ValueError, match="worse='C' is not the label"):
    reproduction.render(spec, runs_dir)


def test_the_report_matches_the_tracked_runs():
  """REPRODUCTION.md's generated tables equal what the tracked files give."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  spec = reproduction.load_spec(os.path.join(root, 'reports', 'runs',
                                             'tables.json'))
  sections = reproduction.render(spec, os.path.join(root, 'reports', 'runs'))
  with open(os.path.join(root, 'REPRODUCTION.md')) as f:
    text = f.read()
  assert reproduction.updated_text(text, sections) == text, (
      'REPRODUCTION.md has drifted: run python bin/reproduction.py')


def test_comparisons_report_the_cost_of_b(runs):
  """A comparison (not an ordering of the paper) reports B - A: B's runs
  are a nat worse per image, so about +1."""
  runs_dir, spec = runs
  spec['comparisons'] = [{'better': 'A', 'worse': 'B'}]
  line = reproduction.render(spec, runs_dir)['comparisons'].splitlines()[2]
  cells = [c.strip() for c in line.strip('|').split('|')]
  assert cells[0] == 'A = A, B = B' and cells[3] == '3'
  assert all(0.7 < float(d) < 1.3 for d in cells[1].split(', '))


def test_the_figure_groups_orderings_by_table_with_the_papers_difference(
    runs, tmp_path):
  """A second table repeats row A (as the hardware-graph table repeats Table
  2's RBM rows): the orderings stay in the first table's panel. B's runs are
  a nat worse per image: A < B holds near -1, B < A reverses near +1, and
  the paper's differences are its rows' values, -1 and +1."""
  runs_dir, spec = runs
  spec['tables'].append({'name': 'repeat',
                         'rows': [spec['tables'][0]['rows'][0]]})
  [(name, entries)] = reproduction.ordering_panels(spec, runs_dir)
  assert name == 't'
  (a_text, a_ours, a_error, a_paper, a_verdict), (_, b_ours, _, b_paper,
                                                   b_verdict) = entries
  assert a_text == 'A < B' and a_verdict == 'yes' and b_verdict == 'reversed'
  assert -1.3 < a_ours < -0.7 and 0.7 < b_ours < 1.3 and 0. < a_error < 0.3
  assert (a_paper, b_paper) == (-1., 1.)
  pytest.importorskip('matplotlib')  # the 'report' and 'test' extras have it
  path = tmp_path / 'orderings.png'
  reproduction.draw_orderings([(name, entries)], str(path))
  assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_the_paper_gaps_are_the_smallest_and_largest_row_distance(runs):
  runs_dir, spec = runs
  a = reproduction.row_summary(runs_dir, ['a/s1', 'a/s2', 'a/s3'])['nll']
  b = reproduction.row_summary(runs_dir, ['b/s1', 'b/s2', 'b/s3'])['nll']
  gaps = sorted([abs(a - 90.), abs(b - 91.)])
  text = reproduction.render(dict(spec, gap_tables=['t']), runs_dir)[
      'paper_gaps']
  assert text.startswith(f'Our likelihoods are {gaps[0]:.2f} to '
                         f'{gaps[1]:.2f} nats from the paper')
  assert '2 rows' in text
  with pytest.raises(ValueError, match='No row of the tables'):
    reproduction.render(dict(spec, gap_tables=['other']), runs_dir)


def _write_candidate(runs_dir, name, validation_nll, beta, lr, rng):
  _write_run(runs_dir, name, rng.normal(100., 1., size=50))
  with open(os.path.join(runs_dir, name, 'best.json'), 'w') as f:
    json.dump({'nll': validation_nll, 'num_images': 2000, 'step': 30000,
               'stderr': 0.5, 'num_importance_samples': 100}, f)
  with open(os.path.join(runs_dir, name, 'config.json'), 'w') as f:
    json.dump({'train': {'beta_start': beta[0], 'beta_end': beta[1],
                         'learning_rate': lr}}, f)


@pytest.fixture
def selection(tmp_path, rng):
  runs_dir = str(tmp_path)
  grid = {'g/5-12': ((5., 12.), 5e-4, 101.5), 'g/8-18': ((8., 18.), 5e-4, 100.9),
          'g/8-18-lr': ((8., 18.), 1e-4, 102.3)}
  for name, (beta, lr, validation) in grid.items():
    _write_candidate(runs_dir, name, validation, beta, lr, rng)
  for seed in (1, 2):
    _write_candidate(runs_dir, f'best/s{seed}', 100., (8., 18.), 5e-4, rng)
  spec = {'tables': [{'name': 't', 'rows': [
      {'label': 'best', 'runs': ['best/s1', 'best/s2']}]}],
          'selections': [{'name': 'sel', 'methods': [
              {'method': 'M', 'row': 'best',
               'candidates': ['g/5-12', 'g/8-18', 'g/8-18-lr']}]}]}
  return runs_dir, spec


def test_a_selection_picks_the_lowest_validation_nll(selection):
  runs_dir, spec = selection
  rows = {'best': spec['tables'][0]['rows'][0]}
  method = spec['selections'][0]['methods'][0]
  candidates, selected = reproduction.selection_summary(runs_dir, method,
                                                        rows)
  assert selected == (8., 18., 5e-4)
  assert [c['run'] for c in candidates] == ['g/8-18', 'g/5-12', 'g/8-18-lr']
  table = reproduction.render(spec, runs_dir)['sel']
  lines = table.splitlines()[2:]
  assert lines[0].startswith('| M | beta 8 -> 18, lr 5e-4 | 100.90 (2000) |')
  assert lines[0].endswith('| yes: best |')
  assert lines[1].endswith('|  |')


def test_a_row_that_no_longer_follows_its_selection_is_named(selection, rng):
  runs_dir, spec = selection
  # A new grid point validates better: the row's runs are now of the wrong
  # setting.
  _write_candidate(runs_dir, 'g/6.5-15', 99.0, (6.5, 15.), 5e-4, rng)
  spec['selections'][0]['methods'][0]['candidates'].append('g/6.5-15')
  with pytest.raises(ValueError, match=r"Row 'best' holds best/s1 \(beta 8 "
                     r"-> 18, lr 5e-4\), but the validated best of M is "
                     r'beta 6.5 -> 15, lr 5e-4'):
    reproduction.render(spec, runs_dir)
