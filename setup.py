"""Build refnn's Cython kernels: every src_c/*.pyx becomes the extension module refnn.<name>.

Environment switches:
  REFNN_PORTABLE=1       no -march=native (a build that runs on any x86-64 / aarch64 machine)
  REFNN_CYTHON_DEBUG=1   bounds and wrap-around checks on, -O0 -g (run the tests this way once)
  REFNN_NO_MVEC=1        no vector maths from glibc's libmvec (scalar exp and tanh)
"""
import os
import sys
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
DEBUG = os.environ.get("REFNN_CYTHON_DEBUG", "") not in ("", "0")
PORTABLE = os.environ.get("REFNN_PORTABLE", "") not in ("", "0")
NO_MVEC = os.environ.get("REFNN_NO_MVEC", "") not in ("", "0")


def glibc_version():
    """(major, minor) of the C library when it is glibc, else None."""
    try:
        name, version = os.confstr("CS_GNU_LIBC_VERSION").split()
        major, minor = version.split(".")[:2]
        return int(major), int(minor)
    except (AttributeError, ValueError, OSError):
        return None


def mvec():
    """Macros and libraries for glibc's vector maths (libmvec, glibc >= 2.22, x86-64 Linux)."""
    import platform
    version = glibc_version()
    if NO_MVEC or DEBUG or sys.platform != "linux" or platform.machine() != "x86_64" \
            or version is None or version < (2, 22):
        return [], []
    return [("REFNN_MVEC", str(100 * version[0] + version[1]))], ["mvec"]


def compile_args():
    if sys.platform == "win32":
        return ["/O2"]
    args = ["-O0", "-g"] if DEBUG else ["-O3"]
    # errno is never read by the kernels; without it gcc may vectorise sqrt and friends.
    args += ["-fno-math-errno", "-Wno-unreachable-code"]
    if not PORTABLE and not DEBUG:
        args.append("-march=native")
    return args


directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}

MVEC_MACROS, MVEC_LIBRARIES = mvec()

extensions = [
    Extension(
        f"refnn.{pyx.stem}",
        [str(pyx.relative_to(HERE))],
        include_dirs=[numpy.get_include(), "src_c"],
        extra_compile_args=compile_args(),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")] + MVEC_MACROS,
        libraries=MVEC_LIBRARIES,
    )
    for pyx in sorted((HERE / "src_c").glob("*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["src_c"],
        compiler_directives=directives,
        # a debug build must not reuse C files generated without checks (and vice versa)
        force=DEBUG,
    ),
)
