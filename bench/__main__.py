"""Entry point: ``python -m bench [kernels|logistic|mlp|all ...] [options]`` and
``python -m bench fetch [--cache-dir DIR] [--base-url URL] [names ...]`` (bench/fetch.py).

Tables go to stdout as Markdown (no line over 100 characters), a progress bar per suite to stderr,
and <out>/<suite>.json (+ .png when matplotlib is installed) to the output folder.  The default
run (no suite named = all registered suites, bundled / synthetic data only) takes about two
minutes on 2 cores; --quick runs every suite, table and plot on tiny sizes in well under a minute;
--full adds the large problem sizes and --data-dir (or $SCE_DATA_DIR) the real datasets.
"""
import argparse
import importlib
import sys
import time
from pathlib import Path

from . import SUITES
from ._data import resolve_data_dir
from ._harness import Context, missing_peers_line, save_plot, write_json
from ._machine import machine_info, machine_summary


def _parse(argv):
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks for sce. Registered suites: " + ", ".join(SUITES) + ". "
                    "'python -m bench fetch --help' downloads the real datasets.",
    )
    p.add_argument("suites", nargs="*", metavar="SUITE",
                   help=f"suites to run: {', '.join(SUITES)} or all (default: all)")
    p.add_argument("--full", action="store_true", help="add the large problem sizes")
    p.add_argument("--data-dir", default=None,
                   help="directory of the .npz datasets (default: $SCE_DATA_DIR, else none); "
                        "'python -m bench fetch' fills one")
    p.add_argument("--out", default="bench_out", help="output folder for JSON/PNG (default: bench_out)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats per measurement (median reported; default per suite)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: every suite, table and plot on tiny sizes (seconds)")
    args = p.parse_args(argv)
    names = args.suites or ["all"]
    selected = []
    for name in names:
        if name == "all":
            selected.extend(SUITES)
        elif name in SUITES:
            selected.append(name)
        else:
            p.error(f"unknown suite {name!r} (choose from {', '.join(SUITES)}, all; or fetch)")
    args.selected = list(dict.fromkeys(selected))
    if args.repeats is not None and args.repeats < 1:
        p.error("--repeats must be >= 1")
    if args.quick and args.full:
        p.error("--quick and --full exclude each other")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "fetch":
        from .fetch import main as fetch_main

        return fetch_main(argv[1:])
    args = _parse(argv)
    try:
        data_dir = resolve_data_dir(args.data_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ctx = Context(out_dir=Path(args.out), full=args.full, quick=args.quick, repeats=args.repeats,
                  data_dir=data_dir)
    info = machine_info()
    print(f"[bench] suites: {', '.join(args.selected)}; output: {ctx.out_dir}/"
          + (f"; data: {data_dir}" if data_dir else "; data: bundled + synthetic only"), file=sys.stderr)
    run_args = {"suites": args.selected, "full": args.full, "quick": args.quick,
                "repeats": args.repeats, "data_dir": str(data_dir) if data_dir else None}
    modules = {name: importlib.import_module(SUITES[name], __package__) for name in args.selected}
    peers = missing_peers_line(p for m in modules.values() for p in getattr(m, "PEERS", ()))
    mode = {"quick": " (--quick: tiny sizes)", "full": " (--full)", "default": ""}[ctx.mode]
    print(f"# sce benchmarks{mode}\n\n{machine_summary(info)}"
          + (f"\n{peers}" if peers else "") + "\n", flush=True)
    t_all = time.perf_counter()
    for name, mod in modules.items():
        t0 = time.perf_counter()
        report = mod.run(ctx)
        elapsed = time.perf_counter() - t0
        ctx.finish(name, f"finished in {elapsed:.1f} s")  # clears the progress bar first
        print(f"## {name}\n\n{report.markdown.rstrip()}\n", flush=True)
        results = dict(report.results)
        results["elapsed_s"] = elapsed
        paths = [write_json(ctx.out_dir, name, results, machine=info, args=run_args)]
        png = save_plot(ctx.out_dir, name, report.plot)
        if png is not None:
            paths.append(png)
        elif report.plot is not None:
            ctx.log(name, "matplotlib not available: no PNG")
        ctx.log(name, f"wrote {', '.join(str(p) for p in paths)}")
    total = time.perf_counter() - t_all
    print(f"Total benchmark time: {total:.0f} s.", flush=True)
    print(f"[bench] all done in {total:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
