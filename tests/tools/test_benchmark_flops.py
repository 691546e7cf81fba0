"""tools/benchmark.py and tools/get_flops.py run as a user runs them, on small inputs."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmseg_ddrnet.utils import cpu_memory

SLIM_CITYSCAPES = 'configs/ddrnet/ddrnet_23_slim_1024x1024_120k_cityscapes.py'
SLIM_CAMVID = 'configs/ddrnet/ddrnet_23_slim_720x960_20k_camvid.py'


def run_tool(repo_root: Path, tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(repo_root / 'tools' / tool), *args], capture_output=True, text=True,
                          timeout=300, cwd=repo_root)


def test_benchmark_random_inputs_json(repo_root, tmp_path):
    out = tmp_path / 'bench.json'
    result = run_tool(repo_root, 'benchmark.py', SLIM_CITYSCAPES, '--shape', '64', '128', '--num-images', '3',
                      '--warmup', '1', '--repeat-times', '2', '--precision', 'bf16', '--fuse-conv-bn',
                      '--threads', '1', '--log-interval', '1', '--json', str(out))
    assert result.returncode == 0, result.stderr
    assert 'done image [3  / 3]' in result.stdout and 'Overall fps: net' in result.stdout
    figures = json.loads(out.read_text())
    for key in ('fps_net', 'fps_full', 'full_median_s', 'net_median_s'):
        assert figures[key] > 0
    assert figures['fps_net'] >= figures['fps_full']  # full = net + resize_argmax, timed in the same pass
    assert figures['num_images'] == 6 and len(figures['runs']) == 2
    assert (figures['shape'], figures['precision'], figures['device'], figures['threads']) == \
        ([64, 128], 'bf16', 'cpu', 1)
    assert figures['torch'] and figures['fuse_conv_bn'] and 'resize_argmax' in figures['timed']
    assert figures['page_faults_median'] >= 0 and 'page faults per image' in result.stdout
    assert figures['retains_freed_memory'] is (cpu_memory._glibc() is not None)


def test_benchmark_no_retain_memory_leaves_malloc_alone(repo_root, tmp_path):
    out = tmp_path / 'bench.json'
    result = run_tool(repo_root, 'benchmark.py', SLIM_CITYSCAPES, '--shape', '64', '128', '--num-images', '1',
                      '--warmup', '0', '--threads', '1', '--no-retain-memory', '--json', str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())['retains_freed_memory'] is False


def test_benchmark_on_test_set_images(repo_root, camvid_root, tmp_path):
    out = tmp_path / 'bench.json'
    result = run_tool(repo_root, 'benchmark.py', SLIM_CAMVID, '--num-images', '2', '--warmup', '1', '--threads', '1',
                      '--json', str(out), '--cfg-options', f'data.test.data_root={camvid_root}')
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert figures['num_images'] == 2 and figures['shape'] == 'dataset' and figures['precision'] == 'fp32'


def test_benchmark_help_says_what_is_timed_and_errors_are_one_line(repo_root):
    help_text = run_tool(repo_root, 'benchmark.py', '--help').stdout
    assert 'resize_argmax' in help_text and 'not timed' in help_text and 'synchronised' in help_text
    bad = run_tool(repo_root, 'benchmark.py', SLIM_CITYSCAPES, '--shape', '64', '64', '--precision', 'fp16')
    assert bad.returncode == 1 and bad.stderr.strip().startswith('error:') and 'fp16 is for CUDA' in bad.stderr


@pytest.mark.parametrize('config, gmacs, params', [
    (SLIM_CITYSCAPES, 36.28, 5.696), ('configs/ddrnet/ddrnet_23_1024x1024_120k_cityscapes.py', 143.06, 20.149)])
def test_get_flops_matches_the_paper_in_macs(repo_root, tmp_path, config, gmacs, params):
    out = tmp_path / 'flops.json'
    result = run_tool(repo_root, 'get_flops.py', config, '--shape', '1024', '2048', '--json', str(out))
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert figures['gmacs'] == pytest.approx(gmacs, abs=0.01) and figures['flops'] == 2e9 * figures['gmacs']
    assert figures['params_inference'] / 1e6 == pytest.approx(params, abs=1e-3)
    assert sum(figures['by_module'].values()) == figures['flops']
    assert 'MACs' in result.stdout and 'DDRNet-23-slim 36.3' in result.stdout


def test_layer_profile_times_every_conv_and_counts_the_flop_counters_macs():
    import torch
    from mmseg_ddrnet.apis.benchmark import format_profile, layer_profile, matmul_peak
    from mmseg_ddrnet.config import Config
    from mmseg_ddrnet.models import build_segmentor, prepare_for_inference
    from mmseg_ddrnet.models.complexity import count_flops
    model = build_segmentor(Config.fromfile(SLIM_CITYSCAPES).model)
    prepare_for_inference(model, fuse_conv_bn=True)
    profile = layer_profile(model, torch.randn(1, 3, 64, 128))
    convs = profile['convs']
    expected = count_flops(model, (64, 128))['gmacs']
    assert sum(r['gmacs'] for r in convs.values()) == pytest.approx(expected, rel=1e-6)
    # one row per kind of conv; every conv of the deploy model ran once
    assert sum(r['count'] for r in convs.values()) == sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert '3x3/2 3->32 @32x64' in convs and convs['3x3/2 3->32 @32x64']['count'] == 1  # the first stem conv
    seconds = [r['seconds'] for r in convs.values()]
    assert seconds == sorted(seconds, reverse=True) and min(seconds) > 0
    assert profile['conv_s'] == pytest.approx(sum(seconds)) and profile['net_s'] > 0
    peak = matmul_peak(torch.float32, n=256, repeats=1)
    lines = format_profile(profile, peak, rows=3)
    assert len(lines) == 5 and 'convolutions' in lines[0] and lines[2].strip().startswith(next(iter(convs)))


def test_benchmark_profile_prints_where_the_time_goes(repo_root, tmp_path):
    out = tmp_path / 'bench.json'
    result = run_tool(repo_root, 'benchmark.py', SLIM_CITYSCAPES, '--shape', '64', '128', '--num-images', '1',
                      '--warmup', '0', '--threads', '1', '--fuse-conv-bn', '--profile', '--json', str(out))
    assert result.returncode == 0, result.stderr
    assert 'convolutions' in result.stdout and '% peak' in result.stdout and '3x3/1 64->64 @8x16' in result.stdout
    figures = json.loads(out.read_text())
    assert figures['matmul_peak_gmacs_per_s'] > 0 and figures['profile']['convs']


def test_full_time_covers_the_label_map_as_tools_test_makes_it():
    """A rescaled image: 'full' makes simple_test's label map at ori_shape (0.x order), not a shortcut."""
    import torch
    from mmseg_ddrnet.apis.benchmark import time_inference
    from mmseg_ddrnet.config import Config
    from mmseg_ddrnet.models import build_segmentor
    model = build_segmentor(Config.fromfile(SLIM_CITYSCAPES).model).eval()
    img = torch.randn(1, 3, 32, 48)
    meta = dict(ori_shape=(64, 96, 3), img_shape=(30, 48, 3), pad_shape=(32, 48, 3), flip=True,
                flip_direction='horizontal')
    made = []
    label_map = model.label_map
    model.label_map = lambda *args, **kwargs: made.append(label_map(*args, **kwargs)) or made[-1]
    times = time_inference(model, iter([(img, meta)]), num_images=1, warmup=0)
    assert len(times['full']) == 1 and times['full'][0] >= times['net'][0]
    with torch.no_grad():
        expected = model.simple_test(img, [meta])[0]
    assert made[0].shape == (1, 64, 96) and (made[0][0].numpy() == expected).all()
