"""Install mmseg_ddrnet and build its compiled extension ``mmcv_ext``.

Build with ``pip install --no-build-isolation -e .`` (torch must already be installed: the
extension is compiled against it). See README.md.
"""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version() -> str:
    with open(os.path.join(HERE, 'mmseg_ddrnet', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def read_requirements(name: str) -> list:
    with open(os.path.join(HERE, name)) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]


setup(
    name='mmseg_ddrnet',
    version=read_version(),
    description='DDRNet real-time semantic segmentation with the mmsegmentation 0.x workflow on current PyTorch',
    packages=find_packages(include=['mmseg_ddrnet', 'mmseg_ddrnet.*', 'mmcv_ext', 'mmcv_ext.*']),
    python_requires='>=3.10',
    install_requires=read_requirements('requirements.txt'),
    extras_require={'optional': read_requirements('requirements/optional.txt'),
                    'tests': read_requirements('requirements/tests.txt')},
    zip_safe=False,
)
