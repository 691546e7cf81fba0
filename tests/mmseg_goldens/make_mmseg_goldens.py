"""Write the mmsegmentation 1.2.2 goldens that tests/mmseg_goldens/test_mmseg_goldens.py compares this package with.

Run it with the reference Python (``bash ../shared/reference/setup_mmseg_reference.sh VENV`` makes one):

    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 $MMSEG_REFERENCE_PYTHON tests/mmseg_goldens/make_mmseg_goldens.py \\
        tests/mmseg_goldens/mmseg_1.2.2.npz

The inputs and the reference-side code are in ``mmseg_side.py``; the file holds only mmseg's outputs (and the
state-dict key list of each model), about 100 kB.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import numpy as np  # noqa: E402

import mmseg_side  # noqa: E402


def main(out: str) -> None:
    import mmseg
    import torch
    torch.set_num_threads(1)
    goldens = {'mmseg_version': np.array(mmseg.__version__), 'torch_version': np.array(torch.__version__)}
    for variant in mmseg_side.VARIANTS:
        goldens.update(mmseg_side.dump_model(variant))
    goldens.update(mmseg_side.dump_losses())
    goldens.update(mmseg_side.dump_metrics_and_transforms())
    goldens.update(mmseg_side.dump_extra_transforms())
    np.savez_compressed(out, **goldens)
    print(f'wrote {len(goldens)} arrays to {out} (mmseg {mmseg.__version__}, torch {torch.__version__})')


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: make_mmseg_goldens.py OUT.npz')
    main(sys.argv[1])
