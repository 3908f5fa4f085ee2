"""Build the one compiled extension (motifs/_kernels.c); metadata lives in pyproject.toml.

The extension is optional: without a C compiler the install still succeeds
and the null models use their numpy engines.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("motifs._kernels", ["motifs/_kernels.c"],
                             extra_compile_args=["-O3"], optional=True)])
