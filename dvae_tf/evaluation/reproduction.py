"""The tables of REPRODUCTION.md, computed from tracked evaluation files.

A reproduction run leaves, in a tracked folder `reports/runs/<run>/`, the
files of its evaluation (`eval_test.json`, `eval_test_nll.npy`, from
`evaluation_report`) and its `config.json`. `reports/runs/tables.json` says
which runs make each row of each table (one run per seed), the paper's value
of the row, and the orderings of the paper to check. `render` turns them into
markdown, and `update_report` rewrites the marked sections of REPRODUCTION.md
(`<!-- table:NAME -->` ... `<!-- /table:NAME -->`), so the report cannot
drift from the runs and a clean clone rebuilds it (`bin/reproduction.py`).

A row reports the mean and standard deviation over seeds of each seed's test
NLL, and the mean per-image standard error of the seeds. An ordering "A
beats B" reports, for each seed, the paired difference of the per-image NLLs
of A and B (`evaluation.paired_difference`), and their mean over seeds with
the standard deviation over seeds; it holds if the mean difference is
negative by more than twice its error (the larger of the standard error over
seeds and the mean paired per-image error), and is reversed if it is
positive by more than that. The count of the verdicts is a section of its own
(`orderings_count`), so the report's summary of them is generated too.

A selection (`selections` of `tables.json`) is the paper's model selection
on the validation split: for each method, its grid of settings (one run
each, seed 1), the validation NLL of each run's best checkpoint
(`best.json`, the bound the training validated), and the setting with the
lowest. The method's row at its validated best must be runs of that
setting; `render` raises if it is not (the grid changed and the row no
longer follows it).
"""

import json
import os
import re

import numpy as np

from dvae_tf.evaluation import bound as evaluation
from dvae_tf.evaluation import report as evaluation_report


def load_run(runs_dir, run, split='test'):
  """(evaluation dict, per-image NLL) of the tracked run `run`."""
  run_dir = os.path.join(runs_dir, run)
  result = evaluation_report.read_evaluation(run_dir, split)
  if result is None:
    raise FileNotFoundError(f'{run_dir}: no eval_{split}.json; copy the run\'s '
                            'evaluation files there.')
  return result, np.load(evaluation_report.evaluation_paths(run_dir, split)[1])


def row_summary(runs_dir, runs):
  """Mean and sd over seeds of the runs' NLLs, mean per-image stderr."""
  results = [load_run(runs_dir, run)[0] for run in runs]
  nlls = np.array([r['nll'] for r in results])
  return {'nll': float(nlls.mean()),
          'sd': float(nlls.std(ddof=1)) if len(nlls) > 1 else None,
          'stderr': float(np.mean([r['stderr'] for r in results])),
          'seeds': len(runs),
          'num_images': results[0]['num_images'],
          'num_importance_samples': results[0]['num_importance_samples']}


def _seed_of(run):
  """The seed a run path names: its last `seed...` folder (`.../seed2/k1000`
  is seed2), else its last folder."""
  parts = run.strip('/').split('/')
  return next((p for p in reversed(parts) if p.startswith('seed')), parts[-1])


def ordering_summary(runs_dir, better_runs, worse_runs):
  """Paired differences (better - worse) per seed and their summary.

  Runs pair by seed (`_seed_of`): a seed that only one row has is left out,
  so a row still missing a seed does not pair one seed's run with
  another's."""
  worse_by_seed = {_seed_of(run): run for run in worse_runs}
  pairs = [(run, worse_by_seed[_seed_of(run)]) for run in better_runs
           if _seed_of(run) in worse_by_seed]
  if not pairs:
    raise ValueError(f'The runs {better_runs} and {worse_runs} share no seed '
                     'to pair.')
  per_seed = []
  for a, b in pairs:
    per_seed.append(evaluation.paired_difference(load_run(runs_dir, a)[1],
                                                 load_run(runs_dir, b)[1]))
  differences = np.array([p['difference'] for p in per_seed])
  paired_stderr = float(np.mean([p['stderr'] for p in per_seed]))
  seed_stderr = (float(differences.std(ddof=1) / np.sqrt(len(differences)))
                 if len(differences) > 1 else 0.)
  error = max(paired_stderr, seed_stderr)
  mean = float(differences.mean())
  return {'difference': mean, 'per_seed': differences.tolist(),
          'paired_stderr': paired_stderr, 'seed_stderr': seed_stderr,
          'holds': mean < -2. * error,
          'reversed': mean > 2. * error}


def _format_nll(summary):
  sd = f' ± {summary["sd"]:.2f}' if summary['sd'] is not None else ''
  return f'{summary["nll"]:.2f}{sd}'


def render_table(spec, runs_dir):
  """Markdown of one table of `tables.json`."""
  lines = ['| row | paper | ours (mean ± sd over seeds) | seeds | '
           'per-image s.e. | test images, k |',
           '| --- | --- | --- | --- | --- | --- |']
  for row in spec['rows']:
    summary = row_summary(runs_dir, row['runs'])
    paper = row.get('paper')
    lines.append(
        f'| {row["label"]} | {"–" if paper is None else f"{paper:.2f}"} | '
        f'{_format_nll(summary)} | {summary["seeds"]} | '
        f'{summary["stderr"]:.2f} | {summary["num_images"]}, '
        f'{summary["num_importance_samples"]} |')
  return '\n'.join(lines)


def verdict(summary):
  """'yes', 'reversed' or 'not resolved' for an `ordering_summary`."""
  return ('yes' if summary['holds'] else
          'reversed' if summary['reversed'] else 'not resolved')


def ordering_summaries(spec, runs_dir, key='orderings'):
  """[(ordering of `tables.json`, its `ordering_summary`)] in spec order.

  `key` is 'orderings' (the paper's) or 'comparisons' (differences the
  paper does not state, such as what a hardware graph costs)."""
  rows = {row['label']: row for table in spec['tables']
          for row in table['rows']}
  for ordering in spec[key]:
    for side in ('better', 'worse'):
      if ordering[side] not in rows:
        raise ValueError(f'Ordering {side}={ordering[side]!r} is not the label '
                         'of a row of tables.json.')
  return [(ordering, ordering_summary(runs_dir,
                                      rows[ordering['better']]['runs'],
                                      rows[ordering['worse']]['runs']))
          for ordering in spec[key]]


def _spread(summary, sign=1):
  """(error of the mean difference, its per-seed values as text), the
  difference taken as sign * (A - B)."""
  error = max(summary['paired_stderr'], summary['seed_stderr'])
  return error, ', '.join(f'{sign * d:+.2f}' for d in summary['per_seed'])


def render_orderings(summaries):
  """Markdown table of the `ordering_summaries`."""
  lines = ['| ordering (paper) | ours: A - B (nats), per seed | mean ± error '
           '| holds? |', '| --- | --- | --- | --- |']
  for ordering, summary in summaries:
    error, per_seed = _spread(summary)
    lines.append(f'| {ordering["better"]} < {ordering["worse"]} | {per_seed} '
                 f'| {summary["difference"]:+.2f} ± {error:.2f} | '
                 f'{verdict(summary)} |')
  return '\n'.join(lines)


def render_orderings_count(summaries):
  """One sentence: how many of the `ordering_summaries` hold, reverse, tie."""
  verdicts = [verdict(summary) for _, summary in summaries]
  single = sum(len(summary['per_seed']) == 1 for _, summary in summaries)
  text = (f'Orderings checked: {len(verdicts)} (holds: '
          f'{verdicts.count("yes")}, reversed: {verdicts.count("reversed")}, '
          f'not resolved: {verdicts.count("not resolved")}')
  return text + (f'; {single} of them on one seed).' if single else ').')


def render_comparisons(summaries):
  """Markdown table of comparisons: B - A per seed, the cost of B."""
  lines = ['| comparison | B - A (nats), per seed | mean ± error | seeds |',
           '| --- | --- | --- | --- |']
  for comparison, summary in summaries:
    error, per_seed = _spread(summary, sign=-1)
    lines.append(f'| A = {comparison["better"]}, B = {comparison["worse"]} | '
                 f'{per_seed} | {-summary["difference"]:+.2f} ± {error:.2f} '
                 f'| {len(summary["per_seed"])} |')
  return '\n'.join(lines)


def render_paper_gaps(spec, runs_dir):
  """One sentence: the smallest and largest distance, in nats, between a
  row's mean NLL and the paper's, over the rows with a paper value of the
  tables named in `spec['gap_tables']`."""
  names = set(spec['gap_tables'])
  gaps = [abs(row_summary(runs_dir, row['runs'])['nll'] - row['paper'])
          for table in spec['tables'] if table['name'] in names
          for row in table['rows'] if row.get('paper') is not None]
  if not gaps:
    raise ValueError(f'No row of the tables {sorted(names)} has a paper value.')
  return (f'Our likelihoods are {min(gaps):.2f} to {max(gaps):.2f} nats from '
          f'the paper\'s over the {len(gaps)} rows of these tables.')


# The training settings a selection's grid varies, as config.json names them.
SELECTION_SETTINGS = ('beta_start', 'beta_end', 'learning_rate')


def _settings(runs_dir, run):
  """The run's `SELECTION_SETTINGS`, from its config.json."""
  with open(os.path.join(runs_dir, run, 'config.json')) as f:
    train = json.load(f)['train']
  return tuple(train[key] for key in SELECTION_SETTINGS)


def _validation(runs_dir, run):
  """The run's best validation bound (`best.json`) and its settings."""
  run_dir = os.path.join(runs_dir, run)
  try:
    with open(os.path.join(run_dir, 'best.json')) as f:
      best = json.load(f)
    return best, _settings(runs_dir, run)
  except FileNotFoundError as error:
    raise FileNotFoundError(f'{run_dir}: a candidate of a selection needs its '
                            f'best.json and config.json ({error.filename} is '
                            'missing); copy them from the run.') from None


def _settings_text(settings):
  beta_start, beta_end, learning_rate = settings
  beta = (f'{beta_start:g}' if beta_start == beta_end else
          f'{beta_start:g} -> {beta_end:g}')
  return f'beta {beta}, lr {learning_rate:.0e}'.replace('e-0', 'e-')


def selection_summary(runs_dir, method, rows):
  """The candidates of one method of a selection, best validation first.

  Returns (candidates, selected): candidates a list of dicts (run,
  settings, validation NLL and images, step of the best checkpoint, test
  NLL), sorted by validation NLL; selected the settings of the first.

  Raises:
    ValueError: the method names a row whose runs are not all of the
      selected settings.
  """
  candidates = []
  for run in method['candidates']:
    best, settings = _validation(runs_dir, run)
    test = load_run(runs_dir, run)[0]
    candidates.append({'run': run, 'settings': settings,
                       'validation_nll': best['nll'],
                       'validation_images': best['num_images'],
                       'step': best['step'], 'test_nll': test['nll']})
  candidates.sort(key=lambda c: c['validation_nll'])
  selected = candidates[0]['settings']
  row = method.get('row')
  if row is not None:
    for run in rows[row]['runs']:
      settings = _settings(runs_dir, run)
      if settings != selected:
        raise ValueError(
            f'Row {row!r} holds {run} ({_settings_text(settings)}), but the '
            f'validated best of {method["method"]} is '
            f'{_settings_text(selected)}: train that setting\'s seeds and '
            'list them in the row.')
  return candidates, selected


def render_selection(spec, selection, runs_dir):
  """Markdown of one selection: each method's grid, best validation first."""
  rows = {row['label']: row for table in spec['tables']
          for row in table['rows']}
  lines = ['| method | setting | validation NLL (images) | best step | '
           'test NLL | selected |', '| --- | --- | --- | --- | --- | --- |']
  for method in selection['methods']:
    candidates, _ = selection_summary(runs_dir, method, rows)
    for i, c in enumerate(candidates):
      chosen = (('yes: ' + (method['row'] if method.get('row') else
                            'seeds 2 and 3 to run')) if i == 0 else '')
      lines.append(
          f'| {method["method"]} | {_settings_text(c["settings"])} | '
          f'{c["validation_nll"]:.2f} ({c["validation_images"]}) | '
          f'{c["step"]} | {c["test_nll"]:.2f} | {chosen} |')
  return '\n'.join(lines)


def render(spec, runs_dir):
  """{section name: markdown} for every table, the orderings and their
  count, the distances to the paper (`render_paper_gaps`) and the
  selections."""
  sections = {table['name']: render_table(table, runs_dir)
              for table in spec['tables']}
  if spec.get('gap_tables'):
    sections['paper_gaps'] = render_paper_gaps(spec, runs_dir)
  if spec.get('orderings'):
    summaries = ordering_summaries(spec, runs_dir)
    sections['orderings'] = render_orderings(summaries)
    sections['orderings_count'] = render_orderings_count(summaries)
  if spec.get('comparisons'):
    sections['comparisons'] = render_comparisons(
        ordering_summaries(spec, runs_dir, 'comparisons'))
  for selection in spec.get('selections', ()):
    sections[selection['name']] = render_selection(spec, selection, runs_dir)
  return sections


def ordering_panels(spec, runs_dir):
  """The orderings grouped by table, for the figure: one panel per table.

  An ordering belongs to the first table that has its `better` row. Each
  entry is (the ordering's text, our mean difference A - B, its error, the
  paper's A - B from the rows' `paper` values or None where a row has none,
  our verdict).

  Returns:
    [(table name, [entry, ...])] in the order of `spec['tables']`, tables
    without orderings left out.
  """
  table_of = {}
  for table in spec['tables']:
    for row in table['rows']:
      table_of.setdefault(row['label'], table['name'])
  paper = {row['label']: row.get('paper') for table in spec['tables']
           for row in table['rows']}
  panels = {table['name']: [] for table in spec['tables']}
  for ordering, summary in ordering_summaries(spec, runs_dir):
    a, b = ordering['better'], ordering['worse']
    paper_difference = (None if paper[a] is None or paper[b] is None
                        else paper[a] - paper[b])
    panels[table_of[a]].append(
        (f'{a} < {b}', summary['difference'], _spread(summary)[0],
         paper_difference, verdict(summary)))
  return [(name, entries) for name, entries in panels.items() if entries]


def draw_orderings(panels, path):
  """Draws `ordering_panels` to the PNG `path` (matplotlib).

  One panel per table; each ordering "A < B" is a row, with our paired
  difference A - B and its two-error bar (the verdict's threshold: it holds
  when the bar lies left of zero) and the paper's A - B as a cross.
  """
  try:
    import matplotlib  # pylint: disable=import-outside-toplevel
  except ImportError as error:
    raise ImportError('drawing the orderings figure needs matplotlib: '
                      "pip install -e '.[report]', or pass --figure= to "
                      'skip it') from error
  matplotlib.use('Agg')
  from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
  heights = [len(entries) for _, entries in panels]
  size = (11, 1.2 + 0.32 * sum(heights) + 0.6 * len(panels))
  figure, axes = pyplot.subplots(
      len(panels), 1, figsize=size, gridspec_kw={'height_ratios': heights}, squeeze=False)
  colours = {'yes': 'tab:green', 'reversed': 'tab:red',
             'not resolved': 'tab:grey'}
  for axis, (name, entries) in zip(axes[:, 0], panels):
    rows = np.arange(len(entries))[::-1]
    for y, (_, ours, error, paper, result) in zip(rows, entries):
      axis.errorbar(ours, y, xerr=2. * error, fmt='o', color=colours[result],
                    capsize=3)
      if paper is not None:
        axis.plot(paper, y, 'x', color='black')
    axis.axvline(0., color='black', linewidth=0.8)
    axis.set_yticks(rows, [entry[0] for entry in entries], fontsize=7)
    axis.set_title(name, fontsize=9, loc='left')
    axis.tick_params(axis='x', labelsize=8)
  axes[-1, 0].set_xlabel('A - B (nats). Dots: ours, paired, with two errors '
                         '(green: holds, red: reversed, grey: not resolved).'
                         '\nCrosses: the paper.', fontsize=8)
  figure.tight_layout()
  figure.savefig(path, dpi=110, metadata={'Software': None})
  pyplot.close(figure)


def updated_text(text, sections, report_path='the report'):
  """`text` with each `<!-- table:NAME -->...<!-- /table:NAME -->` replaced."""
  for name, markdown in sections.items():
    pattern = re.compile(rf'(<!-- table:{re.escape(name)} -->\n)(?:.*?\n)?'
                         rf'(<!-- /table:{re.escape(name)} -->)', re.S)
    if not pattern.search(text):
      raise ValueError(f'{report_path} has no section <!-- table:{name} -->; '
                       'add the two marker lines where the table goes.')
    text = pattern.sub(lambda m: m.group(1) + markdown + '\n' + m.group(2),
                       text)
  return text


def update_report(report_path, sections):
  """Rewrites the marked sections of `report_path`; returns whether it changed."""
  with open(report_path) as f:
    text = f.read()
  new = updated_text(text, sections, report_path)
  if new != text:
    with open(report_path, 'w') as f:
      f.write(new)
  return new != text


def load_spec(path):
  with open(path) as f:
    return json.load(f)
