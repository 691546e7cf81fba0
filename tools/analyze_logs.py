"""Plot training curves and summarise iteration times from ``*.log.json`` training logs (mmseg 0.x tool).

Examples::

    python tools/analyze_logs.py plot_curve work_dirs/x/20260101_120000.log.json --keys loss mIoU --out curve.png
    python tools/analyze_logs.py plot_curve a.log.json b.log.json --keys mIoU --legend run_a run_b
    python tools/analyze_logs.py cal_train_time work_dirs/x/20260101_120000.log.json

A log has one JSON object a line: ``mode`` ('train' or 'val'), ``iter``, ``lr``, the losses, ``time``,
``data_time`` and ``memory`` on training lines, the metrics (``mIoU``, ...) on validation lines.
Lines without ``mode`` (the environment and config line) are skipped. Epoch-based logs, whose ``iter``
restarts every epoch, are plotted against the global iteration.
"""
import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mmseg_ddrnet.utils import DataError, MMSegDDRNetError, run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402
from mmseg_ddrnet.visualization import display_problem  # noqa: E402

Record = Dict[str, Any]
Log = Tuple[str, List[Record]]  # (path, records)


def load_json_log(path: str) -> List[Record]:
    """The training and validation records of a JSON-lines log, in file order."""
    records = []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f'{path}, line {lineno}: not a JSON object ({err.msg})') from None
            if isinstance(record, dict) and record.get('mode') in ('train', 'val'):
                records.append(record)
    if not records:
        raise DataError(f'{path}: no training or validation records (lines with a "mode" key)')
    return records


def global_iters(records: List[Record], path: str) -> List[int]:
    """The training iteration of every record.

    Epoch-based runners log ``iter`` within the epoch (it restarts each epoch); their records become
    ``(epoch - 1) * iters_per_epoch + iter``, with ``iters_per_epoch`` the largest ``iter`` of the first epoch.
    """
    missing = [r for r in records if 'iter' not in r]
    if missing:
        raise DataError(f'{path}: a record has no "iter": {missing[0]}')
    train_iters = [r['iter'] for r in records if r['mode'] == 'train']
    if all(a <= b for a, b in zip(train_iters, train_iters[1:])):
        return [r['iter'] for r in records]
    first_epoch = min(r.get('epoch', 1) for r in records)
    per_epoch = max(r['iter'] for r in records if r.get('epoch', 1) == first_epoch)
    return [(r.get('epoch', 1) - first_epoch) * per_epoch + r['iter'] for r in records]


def metric_points(records: List[Record], key: str, path: str) -> Tuple[List[int], List[float], str]:
    """``(iters, values, mode)`` of ``key``: from validation lines if it is logged there, else training lines."""
    iters = global_iters(records, path)
    for mode in ('val', 'train'):
        points = [(it, r[key]) for it, r in zip(iters, records) if r['mode'] == mode and key in r]
        if points:
            return [it for it, _ in points], [value for _, value in points], mode
    known = sorted({k for r in records for k in r} - {'mode', 'iter', 'epoch'})
    raise DataError(f'{path} has no key {key!r}; its records have: {", ".join(known)}')


def import_pyplot(backend: Optional[str], out: Optional[str]):
    """``matplotlib.pyplot`` on ``backend`` (``Agg`` when only writing a file)."""
    try:
        import matplotlib
    except ImportError:
        raise MMSegDDRNetError('plot_curve needs matplotlib: pip install matplotlib') from None
    if backend is not None or out is not None:
        matplotlib.use(backend or 'Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_curve(logs: Sequence[Log], keys: Sequence[str], legend: Optional[Sequence[str]] = None,
               title: Optional[str] = None, out: Optional[str] = None, backend: Optional[str] = None,
               style: Optional[str] = None) -> None:
    """Plot ``keys`` of every log against the iteration; save to ``out`` or show the figure."""
    labels = list(legend) if legend else [f'{path}_{key}' for path, _ in logs for key in keys]
    if len(labels) != len(logs) * len(keys):
        raise MMSegDDRNetError(f'--legend has {len(labels)} labels; expected one per log and key '
                               f'({len(logs)} logs x {len(keys)} keys = {len(logs) * len(keys)})')
    curves = [(path, key, *metric_points(records, key, path)) for path, records in logs for key in keys]
    plt = import_pyplot(backend, out)
    if style:
        plt.style.use(style)
    plt.figure()
    for label, (path, key, iters, values, mode) in zip(labels, curves):
        print(f'plot curve of {path}, metric is {key}')
        if mode == 'val':
            plt.plot(iters, values, label=label, marker='o')
        else:
            plt.plot(iters, values, label=label, linewidth=0.5)
    plt.xlabel('iter')
    plt.legend()
    if title is not None:
        plt.title(title)
    if out is None:
        plt.show()
    else:
        print(f'save curve to: {out}')
        plt.savefig(out)
    plt.close()


def train_time_stats(records: List[Record], path: str, include_outliers: bool = False) -> Dict[str, Any]:
    """Statistics of the per-interval ``time`` (s/iter) of the training records.

    The first interval (warm-up, data loader start) is left out unless ``include_outliers``.
    """
    lines = [(it, r) for it, r in zip(global_iters(records, path), records) if r['mode'] == 'train' and 'time' in r]
    if not include_outliers:
        lines = lines[1:]
    if not lines:
        raise DataError(f'{path}: no training records with "time" to analyse'
                        + ('' if include_outliers else ' after the first one (use --include-outliers)'))
    times = np.array([r['time'] for _, r in lines], dtype=np.float64)
    slowest, fastest = int(times.argmax()), int(times.argmin())
    stats = {'slowest_iter': lines[slowest][0], 'slowest_time': float(times[slowest]),
             'fastest_iter': lines[fastest][0], 'fastest_time': float(times[fastest]),
             'std': float(times.std()), 'mean': float(times.mean())}
    data_times = [r['data_time'] for _, r in lines if 'data_time' in r]
    stats['data_time'] = float(np.mean(data_times)) if data_times else None
    return stats


def cal_train_time(logs: Sequence[Log], include_outliers: bool = False) -> None:
    """Print the slowest and fastest logged intervals and the average time per iteration of every log."""
    for path, records in logs:
        stats = train_time_stats(records, path, include_outliers)
        print(f'-----Analyze train time of {path}-----')
        print(f'slowest interval ends at iter {stats["slowest_iter"]}, average time is {stats["slowest_time"]:.4f}')
        print(f'fastest interval ends at iter {stats["fastest_iter"]}, average time is {stats["fastest_time"]:.4f}')
        print(f'time std over intervals is {stats["std"]:.4f}')
        print(f'average iter time: {stats["mean"]:.4f} s/iter')
        if stats['data_time'] is not None:
            print(f'average data time: {stats["data_time"]:.4f} s/iter')
        print()


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """``plot_curve`` and ``cal_train_time`` sub-commands, as mmseg 0.x's tool."""
    parser = ArgumentParser(prog='tools/analyze_logs.py', description='Analyze JSON training logs')
    tasks = parser.add_subparsers(dest='task', required=True, metavar='{plot_curve,cal_train_time}')
    plot = tasks.add_parser('plot_curve', help='plot curves of logged values against the iteration')
    plot.add_argument('json_logs', nargs='+', help='training logs (*.log.json)')
    plot.add_argument('--keys', nargs='+', default=['mIoU'], help='logged values to plot (default: mIoU)')
    plot.add_argument('--title', help='title of the figure')
    plot.add_argument('--legend', nargs='+', help='one label per log and key (default: LOG_KEY)')
    plot.add_argument('--backend', help='matplotlib backend (default: Agg with --out, else matplotlib default)')
    plot.add_argument('--style', help='matplotlib style, e.g. ggplot')
    plot.add_argument('--out', help='write the figure to this file (e.g. curve.png) instead of showing it in a window')
    timing = tasks.add_parser('cal_train_time', help='average time per training iteration')
    timing.add_argument('json_logs', nargs='+', help='training logs (*.log.json)')
    timing.add_argument('--include-outliers', action='store_true',
                        help='include the first logged interval (warm-up) in the statistics')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.task == 'plot_curve' and args.out is None:
        problem = display_problem()
        if problem is not None:
            raise MMSegDDRNetError(f'{problem} to show the figure on: give --out FILE (e.g. --out curve.png)')
    logs = [(path, load_json_log(path)) for path in args.json_logs]
    if args.task == 'plot_curve':
        plot_curve(logs, args.keys, args.legend, args.title, args.out, args.backend, args.style)
    else:
        cal_train_time(logs, args.include_outliers)
    return 0


if __name__ == '__main__':
    run_cli(main)
