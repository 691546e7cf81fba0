"""The official Cityscapes pixel-level evaluation (cityscapesscripts), made safe to call as a library.

cityscapesscripts keeps its options in a module-level ``args``, exits the process on errors and calls
``np.in1d``, which numpy 2.4 removed. :func:`evaluate_cityscapes` sets the options for one call and
restores them, turns its exits into :class:`DataError`, and gives the module a numpy namespace
with ``in1d`` for the duration of the call only (nothing outside the module is changed).
"""
import contextlib
import glob
import io
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from ..utils import DataError, print_log


class _NumpyWithIn1d:
    """Numpy as cityscapesscripts expects it: everything of ``numpy`` plus ``in1d``."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def in1d(ar1, ar2, assume_unique=False, invert=False):
        return np.isin(np.asarray(ar1).ravel(), ar2, assume_unique=assume_unique, invert=invert)


@contextlib.contextmanager
def _cityscapes_eval_module(pred_dir: str, eval_instances: bool):
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as cs_eval
    saved_args = dict(vars(cs_eval.args))
    saved_np = cs_eval.np
    cs_eval.args.predictionPath = osp.abspath(pred_dir)
    cs_eval.args.predictionWalk = None
    cs_eval.args.evalInstLevelScore = eval_instances
    cs_eval.args.evalPixelAccuracy = True
    cs_eval.args.JSONOutput = False
    cs_eval.args.quiet = False
    cs_eval.args.colorized = False
    cs_eval.args.bold = cs_eval.args.nocol = ''
    if not hasattr(np, 'in1d'):
        cs_eval.np = _NumpyWithIn1d()
    try:
        yield cs_eval
    except SystemExit as err:
        raise DataError(f'the Cityscapes evaluation of predictions in {pred_dir} failed (see its message above; '
                        f'exit status {err.code})') from None
    finally:
        cs_eval.np = saved_np
        vars(cs_eval.args).clear()
        vars(cs_eval.args).update(saved_args)


def find_cityscapes_gt(gt_dir: str) -> List[str]:
    """The ``*_gtFine_labelIds.png`` files under ``gt_dir``, sorted; DataError when there are none."""
    files = sorted(glob.glob(osp.join(gt_dir, '**', '*_gtFine_labelIds.png'), recursive=True))
    if not files:
        raise DataError(f'no *_gtFine_labelIds.png under {gt_dir}: the Cityscapes evaluation compares label ids, '
                        'which the original gtFine download contains')
    return files


def evaluate_cityscapes(pred_dir: str, gt_dir: str, logger=None,
                        gt_files: Optional[List[str]] = None) -> Dict[str, object]:
    """Run cityscapesscripts' pixel-level evaluation of the label-id PNGs in ``pred_dir``.

    Args:
        pred_dir: folder of predictions named ``<city>_<seq>_<frame>*.png`` holding label ids.
        gt_dir: the ``gtFine/<split>`` folder with ``*_gtFine_labelIds.png``.
        logger: where to print the evaluation's report.
        gt_files: ground-truth files to use (default: all under ``gt_dir``).

    Returns:
        cityscapesscripts' result dict (``averageScoreClasses``, ``averageScoreCategories``,
        ``classScores``, ...), scores as fractions.
    """
    gt_files = gt_files if gt_files is not None else find_cityscapes_gt(gt_dir)
    eval_instances = all(osp.exists(f.replace('labelIds', 'instanceIds')) for f in gt_files)
    report = io.StringIO()
    with _cityscapes_eval_module(pred_dir, eval_instances) as cs_eval, contextlib.redirect_stdout(report):
        preds = [cs_eval.getPrediction(cs_eval.args, f) for f in gt_files]
        results = cs_eval.evaluateImgLists(preds, gt_files, cs_eval.args)
    print_log(report.getvalue().rstrip() or 'Cityscapes evaluation done', logger)
    return results


def cityscapes_summary(results: Dict[str, object]) -> Dict[str, float]:
    """The headline numbers of :func:`evaluate_cityscapes` (class and category mean IoU)."""
    keys = ('averageScoreClasses', 'averageScoreCategories', 'averageScoreInstClasses', 'averageScoreInstCategories')
    return {k: float(results[k]) for k in keys if k in results and results[k] is not None
            and not (isinstance(results[k], float) and np.isnan(results[k]))}


__all__ = ['evaluate_cityscapes', 'find_cityscapes_gt', 'cityscapes_summary']
