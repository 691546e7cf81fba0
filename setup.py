"""Install mmseg_ddrnet and build its compiled extension ``mmcv_ext._C``.

Build with ``pip install --no-build-isolation -e .`` (torch must already be installed: the
extension is compiled against it). The CPU kernels are always built; the CUDA kernels too when
``torch.cuda.is_available()`` or ``FORCE_CUDA=1``, and a CUDA toolkit (``CUDA_HOME``) is found.

A failed or impossible build (no C++ compiler, say) does not fail the install: a warning is
printed and ``mmseg_ddrnet.ops`` falls back to its pure-PyTorch reference implementations,
saying so once at run time. Set ``MMCV_EXT_REQUIRED=1`` to make a failed build an error (CI
does), ``MMCV_EXT_SKIP=1`` to skip the extension. See README.md.
"""
import glob
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join('mmcv_ext', 'csrc')


def read_version() -> str:
    with open(os.path.join(HERE, 'mmseg_ddrnet', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def read_requirements(name: str) -> list:
    with open(os.path.join(HERE, name)) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]


def env_flag(name: str) -> bool:
    return os.environ.get(name, '0') not in ('', '0')


def with_cuda() -> bool:
    """Whether to compile the CUDA kernels."""
    import torch
    from torch.utils.cpp_extension import CUDA_HOME
    wanted = torch.cuda.is_available() or env_flag('FORCE_CUDA')
    if wanted and (CUDA_HOME is None or torch.version.cuda is None):
        print('[mmcv_ext] CUDA kernels skipped: '
              + ('no CUDA toolkit found (set CUDA_HOME)' if CUDA_HOME is None
                 else 'torch is a CPU-only build'))
        return False
    return wanted


def extensions_and_cmdclass():
    """The ``mmcv_ext._C`` extension and its build command, or nothing when it cannot be built."""
    if env_flag('MMCV_EXT_SKIP'):
        return [], {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension
    except ImportError:
        print('[mmcv_ext] torch is not installed: the extension is not built '
              '(install torch first, then `pip install --no-build-isolation -e .`)')
        return [], {}
    sources = sorted(glob.glob(os.path.join(CSRC, '**', '*.cpp'), recursive=True))
    # the C++ standard is torch's (C++17 code, built as C++20 by torch>=2.13); -fno-trapping-math lets the
    # compiler if-convert (and so vectorise) float selects, e.g. in common/fast_exp.h: results are unchanged
    cxx = ['-O3', '-fopenmp', '-fno-trapping-math', '-ffp-contract=off']  # no FMA: the same rounding on every ISA
    kwargs = dict(extra_compile_args={'cxx': cxx}, extra_link_args=['-fopenmp'],
                  optional=not env_flag('MMCV_EXT_REQUIRED'))
    if with_cuda():
        sources += sorted(glob.glob(os.path.join(CSRC, '**', '*.cu'), recursive=True))
        kwargs['extra_compile_args']['nvcc'] = ['-O3']
        kwargs['define_macros'] = [('MMCV_EXT_WITH_CUDA', None)]
        ext = CUDAExtension('mmcv_ext._C', sources, **kwargs)
    else:
        ext = CppExtension('mmcv_ext._C', sources, **kwargs)
    return [ext], {'build_ext': optional_build(BuildExtension)}


def optional_build(base):
    """``base`` build command whose failure on an optional extension is only a warning."""

    class BuildOptionalExtension(base):
        def run(self):
            try:
                super().run()
            except Exception as err:  # noqa: BLE001 - any build failure falls back the same way
                if not all(getattr(ext, 'optional', False) for ext in self.extensions):
                    raise
                print(f'\n[mmcv_ext] WARNING: building the compiled extension failed ({err}).\n'
                      '[mmcv_ext] mmseg_ddrnet is installed and works with its slower pure-PyTorch '
                      'reference ops. To get the fused kernels, install the C++ compiler torch needs (g++ >= 10) '
                      'and rerun `pip install --no-build-isolation -e .`; '
                      'set MMCV_EXT_REQUIRED=1 to make this an error.\n')

    return BuildOptionalExtension


ext_modules, cmdclass = extensions_and_cmdclass()

setup(
    name='mmseg_ddrnet',
    version=read_version(),
    description='DDRNet real-time semantic segmentation with the mmsegmentation 0.x workflow on current PyTorch',
    packages=find_packages(include=['mmseg_ddrnet', 'mmseg_ddrnet.*', 'mmcv_ext', 'mmcv_ext.*']),
    python_requires='>=3.10',
    install_requires=read_requirements('requirements.txt'),
    extras_require={'optional': read_requirements('requirements/optional.txt'),
                    'tests': read_requirements('requirements/tests.txt')},
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    zip_safe=False,
)
