"""Build of the sce extension: src/sce/_core.pyx (Cython bridge) + csrc/*.c (C99 kernels).

Flags (no -march=native, no -ffast-math):
  -O3                 vectorization of the kernel loops.
  -fno-trapping-math  lets GCC if-convert the branch-free selects of csrc/ into vector blends; it only
                      declares that floating-point exception flags are not inspected and changes no
                      result (unlike -ffast-math).
  -fno-math-errno     sqrt (the Adam step) compiles to a vector instruction; errno is never read.
  -fopenmp            when the compiler accepts it (probed); otherwise -fopenmp-simd if accepted
                      (vectorized reductions without threads), otherwise neither: the build still succeeds.
Runtime CPU dispatch (x86-64-v4 / x86-64-v3 / baseline clones) is done in csrc/ with GCC target_clones;
SCE_NO_AVX512=1 in the environment builds without the x86-64-v4 clone.
SCE_SANITIZE=address,undefined (any -fsanitize= list) builds with those sanitizers, for CI's memory-safety
step (.ci/run): the Python process then needs LD_PRELOAD of the ASan runtime.
"""
import glob
import os
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _compiler_accepts(compiler, flags, link=False):
    """True when `compiler` compiles (and optionally links) a small OpenMP program with `flags`."""
    src = (
        "#include <omp.h>\nint main(void){int s=0;\n#pragma omp parallel for reduction(+:s)\n"
        "for(int i=0;i<4;i++) s+=i; return s==6 ? omp_get_max_threads()*0 : 1;}\n"
        if link
        else "int main(void){double s=0;\n#pragma omp simd reduction(+:s)\n"
        "for(int i=0;i<4;i++) s+=i; return s==6.0 ? 0 : 1;}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(src)
        try:
            objs = compiler.compile([path], output_dir=tmp, extra_postargs=flags)
            if link:
                compiler.link_executable(objs, os.path.join(tmp, "probe"), extra_postargs=flags)
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    def build_extensions(self):
        cc = self.compiler
        is_msvc = cc.compiler_type == "msvc"
        if is_msvc:
            compile_args, link_args = ["/O2", "/openmp"], []
        else:
            compile_args, link_args = ["-O3", "-fno-trapping-math", "-fno-math-errno"], []
            if os.environ.get("SCE_DISABLE_OPENMP") != "1" and _compiler_accepts(cc, ["-fopenmp"], link=True):
                compile_args.append("-fopenmp")
                link_args.append("-fopenmp")
            elif _compiler_accepts(cc, ["-fopenmp-simd"]):
                compile_args += ["-fopenmp-simd", "-DSCE_OPENMP_SIMD"]
            else:
                print("sce: building without OpenMP", file=sys.stderr)
        if os.environ.get("SCE_NO_AVX512") == "1":
            compile_args.append("-DSCE_NO_X86_64_V4")
        sanitize = os.environ.get("SCE_SANITIZE")
        if sanitize and not is_msvc:
            # every undefined-behaviour report aborts, so that a test run cannot pass over one
            flags = [f"-fsanitize={sanitize}", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
            compile_args += flags
            link_args += flags
        for ext in self.extensions:
            ext.extra_compile_args = compile_args + list(ext.extra_compile_args or [])
            ext.extra_link_args = link_args + list(ext.extra_link_args or [])
        super().build_extensions()


extensions = [
    Extension(
        "sce._core",
        sources=["src/sce/_core.pyx", "csrc/sce_kernels.c", "csrc/sce_runner.c", "csrc/sce_prox.c"],
        include_dirs=["csrc", np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        # every header a kernel includes and the bridge's declarations: a change rebuilds
        depends=sorted(glob.glob("csrc/*.h")) + ["src/sce/_kernels.pxd"],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
