"""tools/train.py: every 0.x flag, the work_dir outputs, kill -9 and resume, and user errors."""
import importlib.util
import json
import logging
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ENGINE_TESTS = osp.join(REPO, 'tests', 'engine')
sys.path.insert(0, ENGINE_TESTS)

import toy  # noqa: E402
from mmseg_ddrnet.utils import CheckpointError, ConfigError, run_cli  # noqa: E402


def _load_tool():
    spec = importlib.util.spec_from_file_location('train_tool', osp.join(REPO, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_tool = _load_tool()


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> str:
    return toy.make_toy_data(str(tmp_path_factory.mktemp('toy_data')))


@pytest.fixture
def config(tmp_path, data_root) -> str:
    return toy.toy_config_file(str(tmp_path / 'toy_cfg.py'), data_root, max_iters=2)


@pytest.fixture(autouse=True)
def _clean_logger():
    yield
    logger = logging.getLogger('mmseg_ddrnet')
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        logger.removeHandler(handler)
        handler.close()


def _json_lines(work_dir):
    [path] = [f for f in os.listdir(work_dir) if f.endswith('.log.json')]
    with open(osp.join(work_dir, path)) as f:
        return [json.loads(line) for line in f]


def assert_same_state(a, b, where: str) -> None:
    """Exact equality of nested dicts/lists/tuples of tensors and plain values (every byte, not a summary)."""
    assert type(a) is type(b), where
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f'{where}[{i}]')
    else:
        assert a == b, where


def _run(*args, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ENGINE_TESTS)
    return subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_both_spellings_of_every_flag():
    hyphen = train_tool.parse_args(['c.py', '--work-dir', 'w', '--load-from', 'a', '--resume-from', 'b',
                                    '--no-validate', '--gpu-id', '1', '--diff-seed', '--cfg-options', 'x=1',
                                    '--local-rank', '2', '--dist-backend', 'gloo', '--auto-resume'])
    underscore = train_tool.parse_args(['c.py', '--work_dir', 'w', '--load_from', 'a', '--resume_from', 'b',
                                        '--no_validate', '--gpu_id', '1', '--diff_seed', '--cfg_options', 'x=1',
                                        '--local_rank', '2', '--dist_backend', 'gloo', '--auto_resume'])
    assert vars(hyphen) == vars(underscore)
    assert hyphen.work_dir == 'w' and hyphen.gpu_id == 1 and hyphen.cfg_options == {'x': 1}
    assert train_tool.parse_args(['c.py', '--gpu_ids', '3', '4']).gpu_ids == [3, 4]


def test_default_work_dir_and_outputs(tmp_path, config, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert train_tool.main([config, '--seed', '1', '--deterministic']) == 0
    work_dir = tmp_path / 'work_dirs' / 'toy_cfg'
    files = set(os.listdir(work_dir))
    assert {'toy_cfg.py', 'iter_2.pth', 'latest.pth'} <= files
    # the dumped config is the one that ran: the file's settings plus those the tool fills in
    from mmseg_ddrnet.config import Config
    dumped, source = Config.fromfile(str(work_dir / 'toy_cfg.py')).to_dict(), Config.fromfile(config).to_dict()
    assert {k: v for k, v in dumped.items() if k in source} == source
    assert dumped['work_dir'] == osp.join('./work_dirs', 'toy_cfg') and dumped['gpu_ids'] == [0]
    assert sum(f.endswith('.log') for f in files) == 1 and sum(f.endswith('.log.json') for f in files) == 1
    log = open(work_dir / next(f for f in files if f.endswith('.log'))).read()
    assert 'Environment info' in log and 'Iter [2/2]' in log and 'eta:' in log and 'Iter(val) [2]' in log
    lines = _json_lines(work_dir)
    assert 'env_info' in lines[0] and lines[0]['seed'] == 1 and lines[0]['exp_name'] == 'toy_cfg.py'
    assert [line['mode'] for line in lines[1:]] == ['train', 'train', 'val']


def test_no_validate_seed_diff_seed_and_cfg_options(tmp_path, config):
    work_dir = str(tmp_path / 'w')
    assert train_tool.main([config, '--work-dir', work_dir, '--no-validate', '--seed', '7', '--diff_seed',
                            '--cfg-options', 'runner.max_iters=3', 'optimizer.lr=0.02']) == 0
    lines = _json_lines(work_dir)
    assert lines[0]['seed'] == 7  # rank 0: seed + 0
    assert [line['mode'] for line in lines[1:]] == ['train'] * 3
    assert lines[1]['lr'] == pytest.approx(0.02)
    assert torch.load(osp.join(work_dir, 'latest.pth'), weights_only=True)['meta']['iter'] == 3


def test_deprecated_flags_warn(tmp_path, config, caplog, monkeypatch):
    import mmseg_ddrnet.utils.logging as log_utils
    monkeypatch.setattr(log_utils, '_warned', set())  # other tests in this process may have warned already
    log_utils.get_root_logger()  # set up first (its set-up turns propagation off), whichever test ran before
    caplog.set_level(logging.WARNING, logger='mmseg_ddrnet')
    logging.getLogger('mmseg_ddrnet').propagate = True
    try:
        args = train_tool.parse_args([config, '--options', 'runner.max_iters=1'])
        assert args.cfg_options == {'runner.max_iters': 1}
        cfg = train_tool.load_config(train_tool.parse_args([config, '--gpus', '2']))
        assert cfg.gpu_ids == [0]
        cfg = train_tool.load_config(train_tool.parse_args([config, '--gpu-ids', '3', '4']))
        assert cfg.gpu_ids == [3]
    finally:
        logging.getLogger('mmseg_ddrnet').propagate = False
    text = caplog.text
    assert '--options is deprecated' in text and '--gpus is deprecated' in text and '--gpu-ids is deprecated' in text
    with pytest.raises(ConfigError, match='cannot both'):
        train_tool.parse_args([config, '--options', 'a=1', '--cfg-options', 'b=2'])


def test_local_rank_and_launcher_errors(config, monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    train_tool.parse_args([config, '--local_rank', '3'])
    assert os.environ['LOCAL_RANK'] == '3'
    monkeypatch.setenv('LOCAL_RANK', '1')  # torchrun's variable wins over the flag
    train_tool.parse_args([config, '--local-rank', '5'])
    assert os.environ['LOCAL_RANK'] == '1'
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConfigError, match='torchrun'):
        train_tool.main([config, '--launcher', 'pytorch'])
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match='nccl'):
            train_tool.main([config, '--launcher', 'pytorch', '--dist-backend', 'nccl'])


def test_resume_from_and_load_from(tmp_path, config):
    first = str(tmp_path / 'first')
    assert train_tool.main([config, '--work-dir', first, '--no-validate']) == 0
    resumed = str(tmp_path / 'resumed')
    assert train_tool.main([config, '--work-dir', resumed, '--no-validate', '--resume-from',
                            osp.join(first, 'iter_2.pth'), '--cfg-options', 'runner.max_iters=4']) == 0
    assert [line['iter'] for line in _json_lines(resumed)[1:]] == [3, 4]
    loaded = str(tmp_path / 'loaded')
    assert train_tool.main([config, '--work-dir', loaded, '--no-validate', '--load-from',
                            osp.join(first, 'iter_2.pth'), '--cfg-options', 'optimizer.lr=0', 'lr_config.min_lr=0',
                            'checkpoint_config.interval=1']) == 0
    assert [line['iter'] for line in _json_lines(loaded)[1:]] == [1, 2]
    # lr 0: the weights after the first iteration are the loaded ones, not a fresh initialisation
    source = toy.state_of(osp.join(first, 'iter_2.pth'))
    for name in ('iter_1.pth', 'iter_2.pth'):
        after = toy.state_of(osp.join(loaded, name))
        assert after.keys() == source.keys()
        assert all(torch.equal(after[k], v) for k, v in source.items()), name
    fresh = str(tmp_path / 'fresh')
    assert train_tool.main([config, '--work-dir', fresh, '--no-validate', '--cfg-options', 'optimizer.lr=0',
                            'lr_config.min_lr=0', 'runner.max_iters=1']) == 0
    assert any(not torch.equal(v, source[k]) for k, v in toy.state_of(osp.join(fresh, 'latest.pth')).items())
    weights = {'state_dict': torch.load(osp.join(first, 'iter_2.pth'), weights_only=True)['state_dict']}
    torch.save(weights, tmp_path / 'weights.pth')
    with pytest.raises(CheckpointError, match='no training progress.*--load-from'):
        train_tool.main([config, '--work-dir', str(tmp_path / 'x'), '--resume-from', str(tmp_path / 'weights.pth')])


@pytest.mark.slow
def test_sigkill_then_auto_resume_is_bit_identical(tmp_path, data_root):
    """A run SIGKILLed after iteration 3 (checkpoint at 2) and resumed ends with the uninterrupted run's state."""
    common = dict(max_iters=6, model=dict(type='ToySegmentor', dropout=0.3))  # dropout: torch's global RNG
    config = toy.toy_config_file(str(tmp_path / 'cfg.py'), data_root, **common)
    killed = toy.toy_config_file(str(tmp_path / 'cfg_killed.py'), data_root, **common,
                                 custom_hooks=[dict(type='SigkillHook', at_iter=3)])
    flags = ['--seed', '3', '--deterministic']
    assert _run(config, '--work-dir', str(tmp_path / 'a'), *flags).returncode == 0
    crashed = _run(killed, '--work-dir', str(tmp_path / 'b'), *flags)
    assert crashed.returncode == -9  # killed: no cleanup, no final save
    assert sorted(f for f in os.listdir(tmp_path / 'b') if f.endswith('.pth')) == ['iter_2.pth', 'latest.pth']
    resumed = _run(config, '--work-dir', str(tmp_path / 'b'), *flags, '--auto-resume')
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert 'resumed from' in resumed.stdout
    a = torch.load(tmp_path / 'a' / 'iter_6.pth', weights_only=True)
    b = torch.load(tmp_path / 'b' / 'iter_6.pth', weights_only=True)
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    for sa, sb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        assert torch.equal(sa['momentum_buffer'], sb['momentum_buffer'])
    for key in ('python', 'numpy', 'torch'):
        assert_same_state(a['rng'][0][key], b['rng'][0][key], key)


def test_user_errors_are_one_line_and_leave_checkpoints_alone(tmp_path, config, capsys):
    work_dir = tmp_path / 'w'
    work_dir.mkdir()
    ckpt = work_dir / 'iter_2.pth'
    ckpt.write_bytes(b'previous checkpoint')
    # the real command line once (interpreter, exit status), then the same edge (run_cli) in this process
    result = _run(str(tmp_path / 'missing.py'), '--work-dir', str(work_dir))
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        f'error: config file not found: {tmp_path / "missing.py"}']
    for args, message in (
            ([config, '--bogus'], 'unrecognized arguments: --bogus'),
            ([config, '--launcher', 'lsf'], "invalid choice: 'lsf'"),
            ([config, '--launcher', 'mpi'], '--launcher mpi needs the environment variable OMPI_COMM_WORLD_RANK'),
            ([config, '--cfg-options', 'optimizer.type=SDG'], "unknown type 'SDG'"),
            ([config, '--cfg-options', 'runner.type=Nope'], 'runner.type must be one of'),
            ([config, '--resume-from', str(tmp_path / 'nope.pth')], 'not found')):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            run_cli(lambda: train_tool.main([*args, '--work-dir', str(work_dir), '--no-validate']))
        assert exit_info.value.code == 1, args
        error_lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(error_lines) == 1 and error_lines[0].startswith('error: ') and message in error_lines[0], \
            (args, error_lines)
        assert ckpt.read_bytes() == b'previous checkpoint'
