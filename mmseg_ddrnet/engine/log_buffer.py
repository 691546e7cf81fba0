"""``LogBuffer``: the values logged each iteration, averaged over the logging interval (mmcv semantics)."""
from collections import OrderedDict
from typing import Dict, List, Union

import numpy as np


class LogBuffer:
    """Histories of scalar values and their sample counts; :meth:`average` fills :attr:`output`."""

    def __init__(self):
        self.val_history: Dict[str, List[float]] = OrderedDict()
        self.n_history: Dict[str, List[int]] = OrderedDict()
        self.output: Dict[str, Union[float, int, str]] = OrderedDict()
        self.ready = False

    def clear(self) -> None:
        self.val_history.clear()
        self.n_history.clear()
        self.clear_output()

    def clear_output(self) -> None:
        self.output.clear()
        self.ready = False

    def update(self, vars: Dict[str, float], count: int = 1) -> None:
        for key, value in vars.items():
            self.val_history.setdefault(key, []).append(float(value))
            self.n_history.setdefault(key, []).append(count)

    def average(self, n: int = 0) -> None:
        """Put the count-weighted mean of the last ``n`` values (all if 0) of each key into :attr:`output`."""
        for key, values in self.val_history.items():
            vals = np.array(values[-n:] if n > 0 else values)
            nums = np.array(self.n_history[key][-n:] if n > 0 else self.n_history[key])
            self.output[key] = float(np.sum(vals * nums) / np.sum(nums))
        self.ready = True
