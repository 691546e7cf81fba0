"""utils.cpu_memory: freed memory kept for reuse, so repeated same-size allocations fault no new pages.

The setting is process-wide, so each case runs in its own interpreter.
"""
import json
import subprocess
import sys
import textwrap

import pytest

from mmseg_ddrnet.utils import cpu_memory

pytestmark = pytest.mark.skipif(cpu_memory._glibc() is None, reason='glibc only')

# 64 MB buffers: above glibc's largest adaptive mmap threshold (32 MB), so by default each one is a fresh mmap
# whose 16,384 pages fault on first touch, every time.
PROBE = textwrap.dedent('''
    import json, sys, torch
    from mmseg_ddrnet.utils import cpu_memory
    applied = cpu_memory.retain_freed_memory() if sys.argv[1] == 'retain' else False
    if sys.argv[1] == 'deploy':
        from mmseg_ddrnet.models import build_segmentor, prepare_for_inference
        model = build_segmentor(dict(type='EncoderDecoder', backbone=dict(type='DDRNet', channels=8, ppm_channels=8),
                                     decode_head=dict(type='DDRHead', in_channels=32, channels=8, num_classes=3)))
        prepare_for_inference(model, retain_memory=sys.argv[2] == '1')
        applied = cpu_memory.retains_freed_memory()
    faults = []
    for _ in range(ROUNDS):
        before = cpu_memory.minor_page_faults()
        x = torch.ones(16 * 1024 * 1024)  # 64 MB, written
        y = x * 2                         # and another
        del x, y
        faults.append(cpu_memory.minor_page_faults() - before)
    print(json.dumps(dict(applied=applied, faults=faults)))
''').replace('ROUNDS', '12')
# glibc settles the heap's layout over the first rounds (a round may still grow it): the last 4 of 12 are steady


def probe(*args: str) -> dict:
    out = subprocess.run([sys.executable, '-c', PROBE, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_default_malloc_faults_every_round_retained_memory_does_not():
    default, retained = probe('default'), probe('retain')
    assert default['applied'] is False and retained['applied'] is True
    pages = 2 * 64 * 1024 * 1024 // 4096
    assert min(default['faults'][1:]) >= pages // 2  # fresh pages every round (16k per buffer)
    assert max(retained["faults"][-4:]) < pages // 20  # once the heap has grown, its pages are reused


@pytest.mark.parametrize('retain', ['1', '0'])
def test_prepare_for_inference_applies_it_on_cpu_unless_told_not_to(retain):
    result = probe('deploy', retain)
    assert result['applied'] is (retain == '1')
    assert (max(result["faults"][-4:]) < 1000) is (retain == '1')


def test_without_glibc_it_is_a_no_op(monkeypatch):
    monkeypatch.setattr(cpu_memory, '_glibc', lambda: None)
    monkeypatch.setattr(cpu_memory, '_applied', False)
    assert cpu_memory.retain_freed_memory() is False
    assert cpu_memory.retains_freed_memory() is False
