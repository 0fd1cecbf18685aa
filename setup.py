"""Build refnn's Cython kernels: every src_c/*.pyx becomes the extension module refnn.<name>.

The default build is portable: it runs on any x86-64 (or aarch64) machine. On x86-64 each
module is built twice more: for x86-64-v3 CPUs (AVX2, FMA), as refnn._avx2.<name>, and for
x86-64-v4 CPUs (AVX-512), as refnn._avx512.<name>; refnn/kernels/_dispatch.py loads the best
build the CPU has the features for.

Environment switches:
  REFNN_NATIVE=1         one build tuned for this machine (-march=native), no run-time choice
  REFNN_CYTHON_DEBUG=1   bounds and wrap-around checks on, -O0 -g (run the tests this way once)
  REFNN_NO_MVEC=1        no vector maths from glibc's libmvec (scalar exp and tanh)
  REFNN_NO_VARIANTS=1    the portable build alone, without the AVX2 and AVX-512 builds
"""
import itertools
import os
import sys
import time
from pathlib import Path

import importlib.util

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.modified import newer_group

HERE = Path(__file__).parent
DEBUG = os.environ.get("REFNN_CYTHON_DEBUG", "") not in ("", "0")
NATIVE = os.environ.get("REFNN_NATIVE", "") not in ("", "0")
NO_MVEC = os.environ.get("REFNN_NO_MVEC", "") not in ("", "0")
NO_VARIANTS = os.environ.get("REFNN_NO_VARIANTS", "") not in ("", "0")
# The builds chosen at run time, each with its compiler flags: refnn._avx2.<name> is built for
# the x86-64-v3 level (AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE), refnn._avx512.<name> for the
# x86-64-v4 level (that and AVX-512 F, CD, BW, DQ, VL); refnn/kernels/_dispatch.py checks the
# CPU for the same lists.
VARIANTS = {"_avx2": ["-march=x86-64-v3"], "_avx512": ["-march=x86-64-v4"]}


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
    if NATIVE and not DEBUG:
        args.append("-march=native")
    return args


def build_variants():
    """Whether to build the run-time-chosen variants: a portable optimised build on x86-64."""
    import platform
    return not (NATIVE or DEBUG or NO_VARIANTS or sys.platform == "win32"
                or platform.machine() not in ("x86_64", "AMD64"))


def variant_extensions(base):
    """The same modules compiled again with each variant's flags, as refnn.<variant>.<name>.

    Each variant compiles the C file Cython generated for the baseline through a one-line
    wrapper (its own source path, so its own object file); the module keeps its init function
    PyInit_<name>, which is what the import of refnn.<variant>.<name> looks for."""
    wrappers = HERE / "build" / "variants"
    out = []
    for variant, flags in VARIANTS.items():
        folder = wrappers / variant
        folder.mkdir(parents=True, exist_ok=True)
        for ext in base:
            c_file = Path(ext.sources[0])
            wrapper = folder / c_file.name
            text = f'#include "{os.path.relpath(HERE / c_file, folder)}"\n'
            if not wrapper.exists() or wrapper.read_text() != text:
                wrapper.write_text(text)
            out.append(Extension(
                ext.name.replace("refnn.", f"refnn.{variant}.", 1),
                [str(wrapper.relative_to(HERE))],
                depends=[str(c_file)] + HEADERS,       # rebuilt whenever its C file changes
                include_dirs=ext.include_dirs, define_macros=ext.define_macros,
                libraries=ext.libraries, extra_compile_args=ext.extra_compile_args + flags))
    return out


def remove_stale_variants():
    """In-place builds without variants delete those an earlier build left in the tree, which
    the run-time choice would otherwise load instead of this build."""
    for variant in VARIANTS:
        for stale in (HERE / "refnn" / variant).glob("*.so"):
            stale.unlink()


directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}

MVEC_MACROS, MVEC_LIBRARIES = mvec()

# the headers and declarations every module may include: a change rebuilds them all
HEADERS = sorted(str(p.relative_to(HERE)) for p in (HERE / "src_c").glob("*.[hp]x[di]")) + \
    sorted(str(p.relative_to(HERE)) for p in (HERE / "src_c").glob("*.h"))

extensions = [
    Extension(
        f"refnn.{pyx.stem}",
        [str(pyx.relative_to(HERE))],
        depends=HEADERS,
        include_dirs=[numpy.get_include(), "src_c"],
        extra_compile_args=compile_args(),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")] + MVEC_MACROS,
        libraries=MVEC_LIBRARIES,
    )
    for pyx in sorted((HERE / "src_c").glob("*.pyx"))
]

ext_modules = cythonize(
    extensions,
    include_path=["src_c"],
    compiler_directives=directives,
    # a debug build must not reuse C files generated without checks (and vice versa)
    force=DEBUG,
)
if build_variants():
    ext_modules += variant_extensions(ext_modules)
else:
    remove_stale_variants()

def _sources_module():
    """refnn/_sources.py, loaded by its path (the package itself is not imported to build it)."""
    spec = importlib.util.spec_from_file_location("refnn_sources", HERE / "refnn" / "_sources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildExt(build_ext):
    """build_ext that says which extension it compiles ("compiling refnn._train (3/14) ...", on
    the build's output: `pip install -v` shows it) and records, after an in-place build
    succeeded, the digest of the sources it compiled (refnn/_sources.py): importing stale
    extensions then stops with what to run."""

    def run(self):
        super().run()
        if self.inplace:
            _sources_module().write_stamp()

    def build_extensions(self):
        self._started = time.monotonic()
        self._counter = itertools.count(1)           # next() is atomic: safe with --parallel
        super().build_extensions()
        print(f"built {len(self.extensions)} extensions in "
              f"{time.monotonic() - self._started:.0f} s", flush=True)

    def build_extension(self, ext):
        number = next(self._counter)
        sources = list(ext.sources) + list(ext.depends)
        if self.force or newer_group(sources, self.get_ext_fullpath(ext.name), "newer"):
            # one write per line: with --parallel two threads may report at once
            sys.stdout.write(f"compiling {ext.name} ({number}/{len(self.extensions)}) ...\n")
            sys.stdout.flush()
        super().build_extension(ext)


setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildExt})
