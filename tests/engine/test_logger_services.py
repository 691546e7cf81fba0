"""WandbLoggerHook and MlflowLoggerHook: real runs (wandb offline, MLflow's local file store), stand-ins for
the API calls, and the one-line error when the package is missing.

The real runs skip when the package is missing outside CI (``CI`` set: wandb is a test requirement and must be
there); MLflow is heavy (pandas, pyarrow, scikit-learn, SQLAlchemy...), so it is not a test requirement: its
real run skips without it and a stand-in module checks the calls everywhere.
"""
import glob
import importlib
import json
import os
import os.path as osp
import struct
import subprocess
import sys
import time
import types

import pytest

import toy
from mmseg_ddrnet.apis.train import train_segmentor
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.datasets import build_dataset
from mmseg_ddrnet.engine.rng import set_random_seed
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.utils import ConfigError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def require(package: str):
    try:
        return importlib.import_module(package)
    except ImportError:
        if os.environ.get('CI') and package == 'wandb':
            raise
        pytest.skip(f'{package} is not installed')


def train(tmp_path, data_root, hook, **overrides):
    cfg = Config(toy.toy_config(data_root, max_iters=4, checkpoint_config=None,
                                evaluation=dict(interval=2, metric='mIoU', pre_eval=True),
                                log_config=dict(interval=2, hooks=[dict(type='TextLoggerHook', by_epoch=False),
                                                                   hook]), **overrides))
    cfg.work_dir, cfg.seed, cfg.gpu_ids = str(tmp_path / 'wd'), 0, [0]
    set_random_seed(0, deterministic=True)
    train_segmentor(build_segmentor(cfg.model), [build_dataset(cfg.data.train)], cfg, validate=True,
                    timestamp='20260101_000000', meta=dict(seed=0))
    with open(osp.join(cfg.work_dir, '20260101_000000.log.json')) as f:
        return cfg.work_dir, [json.loads(line) for line in f][1:]


def wandb_records(path: str):
    """The records of an offline ``run-*.wandb`` file (wandb's LevelDB-style log of protobuf records)."""
    from wandb.proto import wandb_internal_pb2 as pb
    with open(path, 'rb') as f:
        data = f.read()
    ident, magic, _ = struct.unpack('<4sHB', data[:7])
    assert ident == b':W&B' and magic == 0xBEE1
    pos, pending = 7, b''
    while pos + 7 <= len(data):
        room = 32768 - pos % 32768
        if room < 7:  # block trailer
            pos += room
            continue
        _, length, kind = struct.unpack('<IHB', data[pos:pos + 7])
        if kind == 0 and length == 0:
            break
        pending += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # full or last chunk
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b''
            yield record


def finished_records(path: str, timeout: float = 60):
    """The records once the run's ``exit`` record is written (wandb's writer process may still be flushing
    when ``wandb.finish()`` returns)."""
    deadline = time.time() + timeout
    while True:
        records = list(wandb_records(path))
        if any(r.WhichOneof('record_type') == 'exit' for r in records) or time.time() > deadline:
            return records
        time.sleep(0.5)


@pytest.mark.slow
def test_wandb_offline_run_logs_losses_lr_momentum_and_metrics(tmp_path, toy_data, monkeypatch):
    require('wandb')
    monkeypatch.setenv('WANDB_MODE', 'offline')
    monkeypatch.setenv('WANDB_DIR', str(tmp_path))
    monkeypatch.setenv('WANDB_SILENT', 'true')
    work_dir, log = train(tmp_path, toy_data, dict(type='WandbLoggerHook', init_kwargs=dict(
        project='mmseg_ddrnet_test', dir=str(tmp_path)), by_epoch=False, define_metric_cfg={'val/mIoU': 'max'}))
    run_file, = glob.glob(str(tmp_path / 'wandb' / 'offline-run-*' / 'run-*.wandb'))
    history, artifacts = [], []
    for record in finished_records(run_file):
        kind = record.WhichOneof('record_type')
        if kind == 'history':
            history.append({item.key or '/'.join(item.nested_key): json.loads(item.value_json)
                            for item in record.history.item})
        elif kind == 'artifact':
            artifacts.append(record.artifact)
    train_log = [line for line in log if line['mode'] == 'train']
    logged = [h for h in history if 'train/decode.loss_ce' in h]
    assert [h['_step'] for h in logged] == [line['iter'] for line in train_log] == [2, 4]
    for h, line in zip(logged, train_log):
        assert h['train/decode.loss_ce'] == pytest.approx(line['decode.loss_ce'], abs=1e-5)
        assert h['learning_rate'] == pytest.approx(line['lr'], abs=1e-5) and h['momentum'] == 0.9
    assert [h['val/mIoU'] for h in history if 'val/mIoU' in h] == pytest.approx(
        [line['mIoU'] for line in log if line['mode'] == 'val'], abs=1e-5)
    files = {entry.path for entry in artifacts[0].manifest.contents}
    assert files == {'20260101_000000.log.json'}  # the work_dir files ending with out_suffix (no .log in-process)


class _Recorder(types.ModuleType):
    """A stand-in ``mlflow`` / ``wandb`` module that records the calls the hooks make."""

    def __init__(self, name):
        super().__init__(name)
        self.calls = []
        self._active = None

    def __getattr__(self, attr):
        if attr.startswith('__'):
            raise AttributeError(attr)

        def call(*args, **kwargs):
            self.calls.append((attr, args, kwargs))
            if attr == 'start_run':
                self._active = 'run'
            if attr == 'end_run':
                self._active = None
            return self._active if attr == 'active_run' else types.SimpleNamespace(add_file=lambda path: None)
        return call


def test_mlflow_hook_calls_with_a_stand_in_module(tmp_path, toy_data, monkeypatch):
    fake, fake_pytorch = _Recorder('mlflow'), _Recorder('mlflow.pytorch')
    fake.pytorch = fake_pytorch
    monkeypatch.setitem(sys.modules, 'mlflow', fake)
    monkeypatch.setitem(sys.modules, 'mlflow.pytorch', fake_pytorch)
    _, log = train(tmp_path, toy_data, dict(type='MlflowLoggerHook', exp_name='exp', tags=dict(a='1'),
                                            params=dict(lr=0.05), by_epoch=False))
    names = [name for name, _, _ in fake.calls]
    assert names[:5] == ['set_experiment', 'active_run', 'start_run', 'set_tags', 'log_params']
    assert names[-1] == 'end_run'
    metrics = [(kw['step'], args[0]) for name, args, kw in fake.calls if name == 'log_metrics']
    train_log = [line for line in log if line['mode'] == 'train']
    train_metrics = [(step, m) for step, m in metrics if 'train/decode.loss_ce' in m]
    assert [step for step, _ in train_metrics] == [line['iter'] for line in train_log]
    for (_, m), line in zip(train_metrics, train_log):
        assert m['train/decode.loss_ce'] == pytest.approx(line['decode.loss_ce'], abs=1e-5)
        assert m['learning_rate'] == pytest.approx(line['lr'], abs=1e-5) and m['momentum'] == 0.9
    assert any('val/mIoU' in m for _, m in metrics)
    (name, args, kwargs), = fake_pytorch.calls
    assert name == 'log_model' and type(args[0]).__name__ == 'ToySegmentor'


@pytest.mark.slow
def test_mlflow_local_file_store_run(tmp_path, toy_data, monkeypatch):
    mlflow = require('mlflow')
    monkeypatch.setenv('MLFLOW_TRACKING_URI', f'file://{tmp_path}/mlruns')
    monkeypatch.setenv('MLFLOW_ALLOW_FILE_STORE', 'true')  # MLflow 3 asks for the opt-in
    _, log = train(tmp_path, toy_data, dict(type='MlflowLoggerHook', exp_name='toy', params=dict(seed=0),
                                            by_epoch=False, log_model=False))
    client = mlflow.tracking.MlflowClient()
    run, = client.search_runs([client.get_experiment_by_name('toy').experiment_id])
    assert run.info.status == 'FINISHED' and run.data.params == {'seed': '0'}
    history = client.get_metric_history(run.info.run_id, 'train/decode.loss_ce')
    train_log = [line for line in log if line['mode'] == 'train']
    assert [(m.step, round(m.value, 4)) for m in history] == [
        (line['iter'], round(line['decode.loss_ce'], 4)) for line in train_log]


@pytest.mark.parametrize('hook, package', [('WandbLoggerHook', 'wandb'), ('MlflowLoggerHook', 'mlflow')])
def test_missing_package_is_a_one_line_error(tmp_path, toy_data, hook, package):
    """tools/train.py with the package hidden: ``error: ... pip install <package>`` and exit 1."""
    cfg = toy.toy_config_file(str(tmp_path / 'cfg.py'), toy_data, max_iters=1, log_config=dict(
        interval=1, hooks=[dict(type='TextLoggerHook'), dict(type=hook)]))
    hide = tmp_path / 'hide'
    hide.mkdir()
    (hide / 'sitecustomize.py').write_text(f"import sys\nsys.modules['{package}'] = None\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(hide), osp.dirname(osp.abspath(__file__)), REPO]))
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools/train.py'), cfg, '--work-dir', str(tmp_path / 'w')],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert f'{hook} needs the {package} package: pip install {package}' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_missing_package_in_process(tmp_path, toy_data, monkeypatch):
    monkeypatch.setitem(sys.modules, 'wandb', None)
    with pytest.raises(ConfigError, match='pip install wandb'):
        train(tmp_path, toy_data, dict(type='WandbLoggerHook'))
