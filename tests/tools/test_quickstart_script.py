"""tools/quickstart.sh with a stand-in Python (no training): the steps it runs, and that a rerun does not keep the
painted predictions of an earlier run beside the new ones."""
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FAKE_PYTHON = '''#!/usr/bin/env bash
# records each call; tools/train.py "writes" latest.pth into its --work-dir
echo "$*" >> "$CALLS"
if [ "$1" = tools/train.py ]; then
  while [ $# -gt 0 ]; do [ "$1" = --work-dir ] && { mkdir -p "$2"; touch "$2/latest.pth"; }; shift; done
fi
'''


def test_rerun_clears_the_earlier_paintings_and_runs_the_four_steps(tmp_path):
    fake = tmp_path / 'python'
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    work = tmp_path / 'work'
    (work / 'vis' / 'aachen').mkdir(parents=True)
    (work / 'vis' / 'aachen' / 'stale.png').write_bytes(b'an earlier run')
    env = dict(os.environ, PYTHON=str(fake), CALLS=str(tmp_path / 'calls'))
    proc = subprocess.run(['bash', str(REPO / 'tools' / 'quickstart.sh'), '--skip-setup', '--data-dir',
                           str(tmp_path / 'data'), '--work-dir', str(work), '--cfg-options', 'runner.max_iters=20'],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not (work / 'vis').exists()
    calls = [line.split()[0] for line in (tmp_path / 'calls').read_text().splitlines()]
    assert calls == ['tools/misc/make_demo_data.py', 'tools/convert_datasets/cityscapes.py', 'tools/train.py',
                     'tools/test.py']
    train_call = (tmp_path / 'calls').read_text().splitlines()[2]
    assert 'runner.max_iters=20' in train_call and f'data.train.data_root={tmp_path / "data"}' in train_call
