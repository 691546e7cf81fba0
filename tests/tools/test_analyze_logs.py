"""tools/analyze_logs.py on a generated JSON-lines log: plot_curve writes a PNG, cal_train_time prints statistics."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmseg_ddrnet.utils import DataError, MMSegDDRNetError

TIMES = [0.9, 0.2, 0.3, 0.25, 0.35]  # s/iter of the intervals ending at iter 10, 20, ..., 50


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    lines = [{'env_info': 'torch 2', 'config': 'model = dict()', 'seed': 0}]
    for i, time in enumerate(TIMES, 1):
        lines.append({'mode': 'train', 'iter': 10 * i, 'lr': 0.01, 'decode.loss_ce': 1.0 / i, 'loss': 2.0 / i,
                      'time': time, 'data_time': 0.01 * i, 'memory': 100})
        if i % 2 == 0:
            lines.append({'mode': 'val', 'iter': 10 * i, 'lr': 0.01, 'mIoU': 0.1 * i, 'aAcc': 0.9})
    path = tmp_path / '20260101_000000.log.json'
    path.write_text(''.join(json.dumps(line) + '\n' for line in lines))
    return path


@pytest.fixture(scope='module')
def tool(repo_root):
    spec = importlib.util.spec_from_file_location('analyze_logs_tool', repo_root / 'tools' / 'analyze_logs.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(repo_root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(repo_root / 'tools' / 'analyze_logs.py'), *args],
                          capture_output=True, text=True, timeout=120)


def test_metric_points(tool, log_file):
    records = tool.load_json_log(str(log_file))
    assert len(records) == 7  # the env line is skipped
    assert tool.metric_points(records, 'mIoU', 'log') == ([20, 40], [pytest.approx(0.2), pytest.approx(0.4)], 'val')
    iters, values, mode = tool.metric_points(records, 'loss', 'log')
    assert (iters, mode) == ([10, 20, 30, 40, 50], 'train') and values == pytest.approx([2, 1, 2 / 3, 0.5, 0.4])
    with pytest.raises(DataError, match=r"log has no key 'mDice'; its records have: aAcc, data_time, decode"):
        tool.metric_points(records, 'mDice', 'log')


def test_train_time_stats(tool, log_file):
    records = tool.load_json_log(str(log_file))
    stats = tool.train_time_stats(records, 'log')  # the first interval (0.9) is an outlier
    assert stats == {'slowest_iter': 50, 'slowest_time': 0.35, 'fastest_iter': 20, 'fastest_time': 0.2,
                     'std': pytest.approx(0.0559016994), 'mean': pytest.approx(0.275),
                     'data_time': pytest.approx(0.035)}
    assert tool.train_time_stats(records, 'log', include_outliers=True)['mean'] == pytest.approx(0.4)
    with pytest.raises(DataError, match='--include-outliers'):
        tool.train_time_stats(records[:1], 'log')


def test_epoch_based_logs_use_the_global_iteration(tool):
    records = [{'mode': 'train', 'epoch': 1, 'iter': 5, 'loss': 1.0, 'time': 0.1},
               {'mode': 'train', 'epoch': 1, 'iter': 10, 'loss': 0.9, 'time': 0.2},
               {'mode': 'val', 'epoch': 1, 'iter': 12, 'mIoU': 0.3},
               {'mode': 'train', 'epoch': 2, 'iter': 5, 'loss': 0.8, 'time': 0.3},
               {'mode': 'train', 'epoch': 2, 'iter': 10, 'loss': 0.7, 'time': 0.4},
               {'mode': 'val', 'epoch': 2, 'iter': 12, 'mIoU': 0.4}]
    assert tool.global_iters(records, 'log') == [5, 10, 12, 17, 22, 24]
    assert tool.metric_points(records, 'mIoU', 'log') == ([12, 24], [0.3, 0.4], 'val')
    assert tool.metric_points(records, 'loss', 'log') == ([5, 10, 17, 22], [1.0, 0.9, 0.8, 0.7], 'train')
    assert tool.train_time_stats(records, 'log')['slowest_iter'] == 22
    with pytest.raises(DataError, match='a record has no "iter"'):
        tool.global_iters([{'mode': 'val', 'mIoU': 0.1}], 'log')


def test_bad_logs(tool, tmp_path):
    bad = tmp_path / 'bad.log.json'
    bad.write_text('{"mode": "train", "iter": 1}\n{not json\n')
    with pytest.raises(DataError, match=r'bad\.log\.json, line 2: not a JSON object'):
        tool.load_json_log(str(bad))
    empty = tmp_path / 'empty.log.json'
    empty.write_text('{"env_info": "x"}\n')
    with pytest.raises(DataError, match='no training or validation records'):
        tool.load_json_log(str(empty))


def test_plot_needs_matplotlib(tool, log_file, monkeypatch):
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    records = tool.load_json_log(str(log_file))
    with pytest.raises(MMSegDDRNetError, match='plot_curve needs matplotlib'):
        tool.plot_curve([(str(log_file), records)], ['loss'], out='x.png')


def test_plot_curve_writes_png(repo_root, log_file, tmp_path):
    out = tmp_path / 'curve.png'
    result = run_tool(repo_root, 'plot_curve', str(log_file), str(log_file), '--keys', 'loss', 'mIoU',
                      '--legend', 'a_loss', 'a_miou', 'b_loss', 'b_miou', '--title', 'run', '--out', str(out))
    assert result.returncode == 0, result.stderr
    assert f'plot curve of {log_file}, metric is mIoU' in result.stdout
    assert f'save curve to: {out}' in result.stdout
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_plot_curve_draws_the_logged_points(tool, log_file, tmp_path, monkeypatch):
    """The figure holds one line per log and key, with the logged iterations and values and the legend's labels."""
    pytest.importorskip('matplotlib')
    plt = tool.import_pyplot(None, str(tmp_path / 'c.png'))
    monkeypatch.setattr(plt, 'close', lambda *args: None)  # keep the figure to look at it
    records = tool.load_json_log(str(log_file))
    try:
        tool.plot_curve([(str(log_file), records)], ['loss', 'mIoU'], legend=['l', 'm'], title='run',
                        out=str(tmp_path / 'c.png'))
        ax = plt.gcf().axes[0]
        lines = [(line.get_label(), list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()]
        assert lines == [('l', [10, 20, 30, 40, 50], pytest.approx([2, 1, 2 / 3, 0.5, 0.4])),
                         ('m', [20, 40], pytest.approx([0.2, 0.4]))]
        assert ax.get_title() == 'run' and ax.get_xlabel() == 'iter'
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ['l', 'm']
    finally:
        monkeypatch.undo()
        plt.close('all')


def test_plot_curve_user_errors(repo_root, log_file, tmp_path):
    missing_key = run_tool(repo_root, 'plot_curve', str(log_file), '--keys', 'mDice', '--out', str(tmp_path / 'x.png'))
    assert missing_key.returncode == 1
    assert missing_key.stderr.startswith(f"error: {log_file} has no key 'mDice'")
    legend = run_tool(repo_root, 'plot_curve', str(log_file), '--keys', 'loss', 'mIoU', '--legend', 'one',
                      '--out', str(tmp_path / 'y.png'))
    assert legend.returncode == 1 and '--legend has 1 labels; expected one per log and key' in legend.stderr
    missing_file = run_tool(repo_root, 'cal_train_time', str(tmp_path / 'nope.log.json'))
    assert missing_file.returncode == 1 and 'nope.log.json' in missing_file.stderr


def test_cal_train_time_output(repo_root, log_file):
    result = run_tool(repo_root, 'cal_train_time', str(log_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f'-----Analyze train time of {log_file}-----',
        'slowest interval ends at iter 50, average time is 0.3500',
        'fastest interval ends at iter 20, average time is 0.2000',
        'time std over intervals is 0.0559',
        'average iter time: 0.2750 s/iter',
        'average data time: 0.0350 s/iter',
        '',
    ]


@pytest.mark.parametrize('args', [[], ['plot_curve'], ['no_such_task', 'x.log.json'], ['cal_train_time', '--nope', 'x']])
def test_bad_command_lines_are_one_line_errors_with_status_1(repo_root, args):
    result = run_tool(repo_root, *args)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith('error: tools/analyze_logs.py') and '--help' in line
