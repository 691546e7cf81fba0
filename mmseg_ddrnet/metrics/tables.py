"""Metric tables: the per-class and summary tables printed after evaluation, and their JSON dump."""
import json
from collections import OrderedDict
from typing import Dict, List, Mapping, Sequence

import numpy as np

from ..utils.io import atomic_write


def format_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A plain-text table with ``|`` separators, columns padded to their widest cell."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

    def line(row: List[str]) -> str:
        return '| ' + ' | '.join(c.ljust(w) for c, w in zip(row, widths)) + ' |'
    return '\n'.join([rule, line(cells[0]), rule] + [line(r) for r in cells[1:]] + [rule])


def _pct(value: float) -> str:
    return 'nan' if np.isnan(value) else f'{value * 100:.2f}'


def metric_tables(ret_metrics: Mapping[str, np.ndarray], class_names: Sequence[str]) -> str:
    """The per-class table (percentages) followed by the summary table (class means and ``aAcc``)."""
    per_class = [k for k in ret_metrics if k != 'aAcc']
    rows = [[name] + [_pct(ret_metrics[k][i]) for k in per_class] for i, name in enumerate(class_names)]
    summary = summarize(ret_metrics, class_names)
    summary_keys = ['aAcc'] + [f'm{k}' for k in per_class]
    return ('per class results:\n' + format_table(['Class'] + per_class, rows) + '\nSummary:\n'
            + format_table(summary_keys, [[_pct(summary[k]) for k in summary_keys]]))


def summarize(ret_metrics: Mapping[str, np.ndarray], class_names: Sequence[str]) -> Dict[str, float]:
    """mmseg 0.x's ``evaluate`` dict: ``aAcc``, ``m<Metric>`` (NaN-ignoring class mean), ``<Metric>.<class>``.

    Values are fractions in [0, 1] (not rounded).
    """
    results: Dict[str, float] = OrderedDict(aAcc=float(ret_metrics['aAcc']))
    for key, values in ret_metrics.items():
        if key == 'aAcc':
            continue
        values = np.asarray(values, dtype=np.float64)
        results[f'm{key}'] = float(np.nanmean(values)) if not np.all(np.isnan(values)) else float('nan')
    for key, values in ret_metrics.items():
        if key != 'aAcc':
            results.update({f'{key}.{name}': float(values[i]) for i, name in enumerate(class_names)})
    return results


def dump_metrics_json(results: Mapping[str, float], path: str) -> None:
    """Write ``results`` (e.g. :func:`summarize`'s output) as JSON, atomically; NaN becomes null."""
    clean = {k: (None if isinstance(v, float) and np.isnan(v) else _plain(v)) for k, v in results.items()}
    with atomic_write(path, 'w') as f:
        json.dump(clean, f, indent=2)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
