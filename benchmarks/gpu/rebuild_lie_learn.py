"""Rebuild lie_learn's Cython modules against the numpy that runs this script.

escnn imports lie_learn, whose only wheels (0.0.2) hold Cython modules built
against numpy 1, which numpy 2 refuses to load.  The GPU image's scipy needs
numpy 2, so there the escnn columns of the benchmarks need lie_learn rebuilt:
the wheel ships each module's ``.pyx`` beside its ``.so``, and this script
compiles every one in place (Cython and a C compiler, both in the image) over
the old ``.so``.  Benchmarks only: eqcnn itself never imports escnn.

    python3 benchmarks/gpu/rebuild_lie_learn.py /tmp/site    # the --target folder lie_learn went into
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    import numpy
    from Cython.Build import cythonize
    from Cython.Compiler.Errors import CompileError
    from setuptools import Extension, setup

    site = Path(sys.argv[1]).resolve()
    sources = sorted((site / "lie_learn").rglob("*.pyx"))
    if not sources:
        raise SystemExit(f"no lie_learn/*.pyx under {site}")
    modules = [
        Extension(
            ".".join(p.relative_to(site).with_suffix("").parts),
            [str(p)],
            include_dirs=[numpy.get_include()],
            extra_compile_args=["-O1", "-w"],  # a benchmark dependency: build fast, quietly
        )
        for p in sources
    ]
    for p in sources:  # the numpy-1 builds, so a failed rebuild cannot leave a stale one behind
        for old in p.parent.glob(p.stem + ".cpython-*.so"):
            old.unlink()
    os.chdir(site)
    built, failed = [], []
    for module in modules:  # Python 2 sources; pinchon_hoggan.pyx uses np.int_t, gone from numpy 2
        try:
            built += cythonize([module], compiler_directives={"language_level": "2"}, quiet=True)
        except CompileError:
            failed.append(module.name)
    setup(
        name="lie_learn_rebuild", ext_modules=built, script_args=["build_ext", "--inplace", f"--parallel={len(built)}"]
    )
    print("rebuilt against numpy", numpy.__version__, ":", ", ".join(m.name for m in built))
    print("not rebuilt (fail to compile; escnn's C_N and D_N layers do not import them):", ", ".join(failed) or "none")


if __name__ == "__main__":
    main()
