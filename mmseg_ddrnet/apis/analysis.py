"""The confusion matrix of ``tools/test.py --out`` results and its normalised plot (``tools/confusion_matrix.py``)."""
import os
import pickle
from typing import Any, List, Optional, Sequence

import numpy as np
from tqdm import tqdm

from ..metrics import sum_confusion
from ..utils import DataError
from ..utils.optional import import_optional

PERCENT = 100.0


def load_results(path: str) -> List[Any]:
    """The list pickled by ``tools/test.py --out``."""
    if not os.path.isfile(path):
        raise DataError(f'predictions file not found: {path}')
    with open(path, 'rb') as f:
        try:
            results = pickle.load(f)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as err:
            raise DataError(f'{path} is not a results pickle of tools/test.py --out ({err})') from err
    if not isinstance(results, (list, tuple)) or not results:
        raise DataError(f'{path} holds {type(results).__name__}, not the non-empty list of tools/test.py --out')
    return list(results)


def dataset_confusion_matrix(dataset: Any, results: Sequence[Any]) -> np.ndarray:
    """The summed ``C×C`` confusion matrix (rows: ground truth) of ``results`` on ``dataset``.

    ``results`` are what ``tools/test.py --out`` pickles: one label map per image in dataset order (without
    ``--eval``), or one confusion matrix per image (with ``--eval``); ignored pixels are not counted.
    """
    num_classes = len(dataset.CLASSES)
    if not all(isinstance(r, np.ndarray) and r.ndim == 2 for r in results):
        kinds = sorted({type(r).__name__ for r in results})
        raise DataError(f'the results are {", ".join(kinds)}: expected label maps or confusion matrices '
                        '(tools/test.py --out without --format-only)')
    if len(results) != len(dataset):
        if all(r.shape == (num_classes, num_classes) for r in results):
            return sum_confusion(results)
        raise DataError(f'{len(results)} label maps for a dataset of {len(dataset)} images: '
                        'was --out written with another config?')
    if _are_matrices(dataset, results, num_classes):
        return sum_confusion(results)
    matrices = (dataset.pre_eval(pred, idx)[0] for idx, pred in enumerate(
        tqdm(results, desc='confusion matrix', unit='img', disable=len(results) < 100)))
    return sum_confusion(matrices)


def _are_matrices(dataset: Any, results: Sequence[np.ndarray], num_classes: int) -> bool:
    if not all(r.shape == (num_classes, num_classes) for r in results):
        return False
    return dataset.get_gt_seg_map_by_idx(0).shape != (num_classes, num_classes)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row (ground-truth class) in percent of its pixels; rows of absent classes are NaN."""
    sums = matrix.sum(axis=1, keepdims=True).astype(np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(sums > 0, matrix / np.where(sums > 0, sums, 1) * PERCENT, np.nan)


def plot_confusion_matrix(matrix: np.ndarray, labels: Sequence[str], save_dir: Optional[str] = None,
                          show: bool = False, title: str = 'Normalized Confusion Matrix',
                          color_theme: str = 'winter') -> Optional[str]:
    """Plot the row-normalised ``matrix`` (percent per ground-truth class) as mmseg 0.x does.

    Writes ``<save_dir>/confusion_matrix.png`` (returned) and/or shows the figure. Needs matplotlib.
    """
    matplotlib = import_optional('matplotlib', 'the confusion matrix plot')
    if not show:
        matplotlib.use('Agg')
    plt = import_optional('matplotlib.pyplot', 'the confusion matrix plot', 'matplotlib')
    try:
        cmap = plt.get_cmap(color_theme)
    except ValueError as err:
        raise DataError(f'--color-theme: {color_theme!r} is not a matplotlib colormap') from err
    percent = normalize_rows(matrix)
    num = len(labels)
    fig, ax = plt.subplots(figsize=(0.5 * num + 3, 0.5 * num * 0.8 + 3), dpi=180)
    image = ax.imshow(np.nan_to_num(percent), cmap=cmap, vmin=0, vmax=PERCENT)
    fig.colorbar(image, ax=ax)
    ax.set_title(title, fontdict={'weight': 'bold', 'size': 12})
    ax.set_xlabel('Prediction label', fontsize=10)
    ax.set_ylabel('Ground Truth label', fontsize=10)
    ax.set_xticks(np.arange(num), labels=labels, rotation=45, ha='right', fontsize=7)
    ax.set_yticks(np.arange(num), labels=labels, fontsize=7)
    for i in range(num):
        for j in range(num):
            text = '-' if np.isnan(percent[i, j]) else f'{int(percent[i, j])}%'
            ax.text(j, i, text, ha='center', va='center', color='w', size=6)
    fig.tight_layout()
    out_file = None
    if save_dir is not None:
        os.makedirs(save_dir, exist_ok=True)
        out_file = os.path.join(save_dir, 'confusion_matrix.png')
        fig.savefig(out_file)
    if show:
        plt.show()
    plt.close(fig)
    return out_file
