"""Evaluate an exported (ONNX) model through onnxruntime as tools/test.py evaluates a checkpoint (mmseg 0.x)::

    python tools/pytorch2onnx.py CONFIG CHECKPOINT --output-file ddrnet.onnx --dynamic-export
    python tools/deploy_test.py CONFIG ddrnet.onnx --eval mIoU

The dataset, test pipeline, test loop, metrics and --out/--format-only/--show-dir outputs are tools/test.py's;
only the network is onnxruntime's. A model exported with a fixed --shape needs test images of that size.
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
from typing import Any, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

import torch  # noqa: E402

from mmseg_ddrnet.config import DictAction  # noqa: E402
from mmseg_ddrnet.datasets import build_dataset  # noqa: E402
from mmseg_ddrnet.export.onnxruntime_segmentor import ONNXRuntimeSegmentor  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, print_log, run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402

BACKENDS = ('onnxruntime',)


def _test_tool() -> Any:
    """tools/test.py as a module: its config loading, test run and reporting are reused unchanged."""
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'test.py')
    spec = importlib.util.spec_from_file_location('mmseg_ddrnet_tools_test', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(prog='tools/deploy_test.py', description='evaluate an ONNX model with onnxruntime')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('model', help='ONNX file (tools/pytorch2onnx.py)')
    parser.add_argument('--backend', default='onnxruntime', choices=BACKENDS, help='inference backend')
    parser.add_argument('--device', default='cpu', help='cpu, or cuda (onnxruntime-gpu)')
    parser.add_argument('--work-dir', '--work_dir', dest='work_dir', help='folder of the metrics JSON')
    parser.add_argument('--out', help='output result file in pickle format, as tools/test.py --out')
    parser.add_argument('--format-only', '--format_only', dest='format_only', action='store_true',
                        help='format the results for a test server without evaluating')
    parser.add_argument('--eval', type=str, nargs='+', help='evaluation metrics, e.g. mIoU')
    parser.add_argument('--show', action='store_true', help='show the painted results in a window')
    parser.add_argument('--show-dir', '--show_dir', dest='show_dir', help='folder where painted images are saved')
    parser.add_argument('--opacity', type=float, default=0.5, help='opacity of painted segmentation, in (0, 1]')
    parser.add_argument('--cfg-options', '--cfg_options', dest='cfg_options', nargs='+', action=DictAction,
                        help='override config values, key=value (a.b.c=1, list: key=[a,b] or key=a,b)')
    parser.add_argument('--eval-options', '--eval_options', dest='eval_options', nargs='+', action=DictAction,
                        help='keyword arguments of dataset.evaluate / format_results, key=value')
    args = parser.parse_args(argv)
    args.aug_test, args.options, args.tmpdir, args.gpu_collect, args.launcher = False, None, None, False, 'none'
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    test = _test_tool()
    test._check_args(args)
    cfg = test.load_config(args)
    if (cfg.model.get('test_cfg') or cfg.get('test_cfg') or {}).get('mode', 'whole') != 'whole':
        raise ConfigError("an exported model runs whole-image inference: set --cfg-options model.test_cfg.mode=whole")
    dataset = build_dataset(cfg.data.test)
    data_loader = test.build_test_loader(cfg, dataset, distributed=False)
    model = ONNXRuntimeSegmentor(args.model, align_corners=bool(cfg.model.decode_head.get('align_corners', False)),
                                 device=args.device, num_threads=_threads())
    for key in ('CLASSES', 'PALETTE'):
        if getattr(model, key, None) is None:
            print_log(f'"{key}" not found in the ONNX metadata, using dataset.{key} instead')
            setattr(model, key, getattr(dataset, key, None))
    eval_kwargs = dict(args.eval_options or {})
    format_dir = test._format_dir(args, eval_kwargs)
    results = test.run_test(args, cfg, dataset, model, data_loader, False, eval_kwargs)
    test.report(args, cfg, dataset, results, eval_kwargs, format_dir)


def _threads() -> Optional[int]:
    """onnxruntime's intra-op threads: torch's count (OMP_NUM_THREADS / torch.set_num_threads) for parity."""
    return int(os.environ.get('OMP_NUM_THREADS', 0)) or torch.get_num_threads()


if __name__ == '__main__':
    run_cli(main)
