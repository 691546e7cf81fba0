"""Weight initialisation shared by the DDRNet modules."""
import torch.nn as nn

from .norm import is_norm


def kaiming_init_(module: nn.Module) -> None:
    """He-normal (fan_out, ReLU) convolutions with zero bias; norm layers weight 1, bias 0.

    This is the initialisation of the official DDRNet code and of mmseg's DDRNet.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif is_norm(m) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
