"""Facts about the machine and the libraries, stored with every JSON result and printed on top."""
import datetime
import importlib
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

from ._harness import cpu_count, get_pyplot, get_torch


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for ln in fh:
                if ln.lower().startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(modname):
    try:
        mod = importlib.import_module(modname)
    except ImportError:
        return None
    return getattr(mod, "__version__", "?")


def _git_state():
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head or None, "dirty": bool(dirty)}


def machine_info():
    """CPU, cores, library versions, sce build facts, date — stored with every JSON result."""
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cores_usable": cpu_count(),
        "cores_total": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "sce": _version("sce"),
            "numpy": np.__version__,
            "scipy": _version("scipy"),
            "sklearn": _version("sklearn"),
            "threadpoolctl": _version("threadpoolctl"),
            "torch": getattr(get_torch(), "__version__", None),
            "matplotlib": _version("matplotlib") if get_pyplot() is not None else None,
        },
        "git": _git_state(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_WAIT_POLICY",
                                           "SCE_DATA_DIR", "SCE_BENCH_NO_TORCH") if k in os.environ},
    }
    try:
        from sce import _core

        info["sce_openmp"] = bool(_core.has_openmp())
    except (ImportError, AttributeError):
        info["sce_openmp"] = None
    try:
        from sce import _core

        info["sce_simd_path"] = str(_core.simd_path())
    except (ImportError, AttributeError):
        info["sce_simd_path"] = None
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "prefix")}
            for p in threadpool_info()
        ]
    except Exception:  # informational only
        info["threadpools"] = None
    return info


def machine_summary(info):
    """Two short lines: the machine, then the library versions."""
    v = info["versions"]
    simd = f" ({info['sce_simd_path']})" if info.get("sce_simd_path") else ""
    return (f"{info['cpu_model']}, {info['cores_usable']} usable cores; {info['date']}\n"
            f"sce {v['sce']}{simd}, numpy {v['numpy']}, scipy {v['scipy']}, scikit-learn {v['sklearn']}")
