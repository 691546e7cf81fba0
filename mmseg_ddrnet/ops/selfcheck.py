"""First-call self-check of the compiled kernels against the reference, per op and device.

The first time an op would run its ``mmcv_ext`` kernel on a CUDA device (on the CPU too when
``MMSEG_DDRNET_SELFCHECK_CPU=1``), the kernel runs on a small fixed input and its result is
compared with the reference's. A mismatch, or an error raised by the kernel (a CUDA error,
say), makes that op use the reference implementation on that device for the rest of the
process; :func:`mmseg_ddrnet.ops.dispatch.select` logs one warning naming the op and the
device. The verdict is kept per ``(op, device)``: the other ops and devices are unaffected.
"""
import os
import threading
from contextlib import contextmanager
from types import ModuleType
from typing import Callable, Dict, Iterator, Optional, Tuple

import torch

from . import compiled, reference
from .checks import class_weight

SELFCHECK_CPU_ENV = 'MMSEG_DDRNET_SELFCHECK_CPU'

#: Tolerances of the float comparisons (the kernels match the reference within 1e-5 in float32).
RTOL, ATOL = 1e-4, 1e-6
IGNORE = 255

_verdicts: Dict[Tuple[str, str], str] = {}
_lock = threading.Lock()


def wanted(device: torch.device) -> bool:
    """Whether kernels on ``device`` are self-checked (CUDA always, the CPU on request)."""
    if device.type == 'cuda':
        return True
    return device.type == 'cpu' and os.environ.get(SELFCHECK_CPU_ENV, '') not in ('', '0')


def problem(op: str, device: torch.device, ext: ModuleType,
            check: Optional[Callable[[ModuleType, torch.device], str]] = None) -> str:
    """Why the kernel of ``op`` must not run on ``device`` ('' when it passed or is not checked).

    The check (``check``, by default this module's check of ``op``; it returns what differs, '' when
    nothing does) runs on the first call for each ``(op, device)``; later calls reuse its verdict.
    """
    if not wanted(device):
        return ''
    key = (op, str(device))
    with _lock:
        if key not in _verdicts:
            with _plain_mode(device):
                detail = (check or _CHECKS[op])(ext, device)
            _verdicts[key] = (f'the mmcv_ext kernel failed its first-call self-check on {device} ({detail}); '
                              f'using the reference implementation on {device} from now on') if detail else ''
    return _verdicts[key]


@contextmanager
def _plain_mode(device: torch.device) -> Iterator[None]:
    """The check's own autograd, precision and determinism settings, whatever the caller's (a first call under
    ``no_grad``, ``inference_mode``, autocast or ``use_deterministic_algorithms`` must not fail the kernel)."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        torch.use_deterministic_algorithms(False)
        with torch.inference_mode(False), torch.enable_grad(), \
                torch.autocast(device.type if device.type in ('cpu', 'cuda') else 'cpu', enabled=False):
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def reset() -> None:
    """Forget every verdict (the next call of each op checks again)."""
    with _lock:
        _verdicts.clear()


def guarded(device: torch.device, fn: Callable):
    """``(fn(), '')``, or ``(None, why)`` when the kernel raised (CUDA errors surface at the sync)."""
    try:
        out = fn()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        return out, ''
    except Exception as err:  # noqa: BLE001 - any failure of the kernel means: do not use it
        first_line = (str(err).strip().splitlines() or [''])[0]
        return None, f'the kernel raised {type(err).__name__}: {first_line}'


def fixed_logits(device: torch.device) -> torch.Tensor:
    """2×4×5×6 float32 logits, the same on every device and run."""
    gen = torch.Generator().manual_seed(20240607)
    return (torch.randn(2, 4, 5, 6, generator=gen) * 3).to(device)


def fixed_label(device: torch.device, size=(11, 13), num_classes: int = 4) -> torch.Tensor:
    """N×H×W int64 labels for :func:`fixed_logits` with about a fifth of them ``IGNORE``."""
    gen = torch.Generator().manual_seed(7)
    label = torch.randint(0, num_classes, (2,) + tuple(size), generator=gen)
    label[torch.rand(label.shape, generator=gen) < 0.2] = IGNORE
    return label.to(device)


def _check_resize_argmax(ext: ModuleType, device: torch.device) -> str:
    logits = fixed_logits(device)
    for size, align_corners in (((11, 13), False), ((11, 13), True), ((5, 6), False), ((3, 4), False)):
        got, err = guarded(device, lambda: compiled.resize_argmax(ext, logits, size, align_corners))
        if err:
            return err
        where = f'size {size}, align_corners={align_corners}'
        if got.shape != (2,) + size or got.dtype != torch.int64:
            return f'{where}: got a {got.dtype} tensor of shape {tuple(got.shape)}'
        if bool(((got < 0) | (got >= logits.shape[1])).any()):
            return f'{where}: class indices outside [0, {logits.shape[1]})'
        x = reference.upsample(logits, size, align_corners)
        picked = x.gather(1, got.unsqueeze(1)).squeeze(1)
        wrong = int((picked < x.amax(1) - ATOL * 10).sum())  # a class whose value is not the maximum
        if wrong:
            return f'{where}: {wrong} of {got.numel()} pixels differ from the reference argmax'
    return ''


#: The loss variants checked: (weight?, avg_non_ignore, align_corners, thres, min_kept).
_CE_CASES = ((False, False, False, None, 0), (True, True, True, None, 0), (True, False, False, 0.7, 20))


def _check_seg_cross_entropy(ext: ModuleType, device: torch.device) -> str:
    logits = fixed_logits(device)
    for size in ((11, 13), (5, 6)):
        label = fixed_label(device, size)
        for use_weight, avg, align_corners, thres, min_kept in _CE_CASES:
            weight = class_weight('selfcheck', [0.5, 1.0, 2.0, 1.5] if use_weight else None, 4, logits)
            args = (label, weight, IGNORE, avg, align_corners, thres, min_kept)
            got, err = guarded(device, lambda: _loss_and_grad(
                lambda x: compiled.seg_cross_entropy(ext, x, *args), logits))
            if err:
                return err
            expected = _loss_and_grad(lambda x: reference.seg_cross_entropy(x, *args), logits)
            for name, a, b in zip(('loss', 'gradient'), got, expected):
                if a.shape != b.shape or not torch.allclose(a, b, rtol=RTOL, atol=ATOL):
                    return (f'label size {size}, thres={thres}: the {name} differs from the reference '
                            f'by up to {_max_diff(a, b):.3g}')
    return ''


def _loss_and_grad(fn: Callable, logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    x = logits.detach().clone().requires_grad_()
    loss = fn(x)
    return loss.detach(), torch.autograd.grad(loss, x)[0]


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        return float('inf')
    return float((a.double() - b.double()).abs().nan_to_num(float('inf')).max())


def _check_confusion_matrix(ext: ModuleType, device: torch.device) -> str:
    gen = torch.Generator().manual_seed(3)
    pred = torch.randint(0, 5, (300,), generator=gen).to(device)
    label = torch.randint(0, 7, (300,), generator=gen)  # 5 and 6: out of range, not counted
    label[:40] = IGNORE
    label = label.to(device)
    for p, t in ((pred, label), (pred.int(), label.to(torch.uint8))):
        got, err = guarded(device, lambda: compiled.confusion_matrix(ext, p, t, 5, IGNORE))
        if err:
            return err
        expected = reference.confusion_matrix(p, t, 5, IGNORE)
        if got.shape != expected.shape or not torch.equal(got, expected):
            return f'{p.dtype} predictions, {t.dtype} labels: the counts differ from the reference'
    return ''


_CHECKS: Dict[str, Callable[[ModuleType, torch.device], str]] = {
    'resize_argmax': _check_resize_argmax,
    'seg_cross_entropy': _check_seg_cross_entropy,
    'confusion_matrix': _check_confusion_matrix,
}
