"""Entry point: ``python -m bench [kernels|logistic|mlp|all ...] [options]``.

Tables go to stdout as Markdown, progress lines to stderr, and <out>/<suite>.json (+ .png when
matplotlib is installed) to the output folder.  The default run (no suite named = all registered
suites, embedded / synthetic data only) takes a few minutes on 2 cores; --full adds the large
problem sizes and --data-dir (or $SCE_DATA_DIR) the real datasets.
"""
import argparse
import importlib
import sys
import time
from pathlib import Path

from . import SUITES
from ._harness import (Context, machine_info, machine_summary, resolve_data_dir, save_plot,
                       write_json)


def _parse(argv):
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks for sce. Registered suites: " + ", ".join(SUITES) + ".",
    )
    p.add_argument("suites", nargs="*", metavar="SUITE",
                   help=f"suites to run: {', '.join(SUITES)} or all (default: all)")
    p.add_argument("--full", action="store_true", help="add the large problem sizes")
    p.add_argument("--data-dir", default=None,
                   help="directory of the shared .npz datasets (default: $SCE_DATA_DIR, else none)")
    p.add_argument("--out", default="bench_out", help="output folder for JSON/PNG (default: bench_out)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats per measurement (median reported; default per suite)")
    p.add_argument("--quick", action="store_true", help="smoke run: small sizes, few repeats (seconds)")
    args = p.parse_args(argv)
    names = args.suites or ["all"]
    selected = []
    for name in names:
        if name == "all":
            selected.extend(SUITES)
        elif name in SUITES:
            selected.append(name)
        else:
            p.error(f"unknown suite {name!r} (choose from {', '.join(SUITES)}, all)")
    args.selected = list(dict.fromkeys(selected))
    if args.repeats is not None and args.repeats < 1:
        p.error("--repeats must be >= 1")
    if args.quick and args.full:
        p.error("--quick and --full exclude each other")
    return args


def main(argv=None):
    args = _parse(argv)
    try:
        data_dir = resolve_data_dir(args.data_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ctx = Context(out_dir=Path(args.out), full=args.full, quick=args.quick, repeats=args.repeats,
                  data_dir=data_dir)
    info = machine_info()
    print(f"[bench] {machine_summary(info)}", file=sys.stderr)
    print(f"[bench] suites: {', '.join(args.selected)}; output: {ctx.out_dir}/"
          + (f"; data: {data_dir}" if data_dir else "; data: embedded only"), file=sys.stderr)
    run_args = {"suites": args.selected, "full": args.full, "quick": args.quick,
                "repeats": args.repeats, "data_dir": str(data_dir) if data_dir else None}
    print(f"# sce benchmarks\n\n{machine_summary(info)}\n", flush=True)
    t_all = time.perf_counter()
    for name in args.selected:
        mod = importlib.import_module(SUITES[name], __package__)
        t0 = time.perf_counter()
        report = mod.run(ctx)
        elapsed = time.perf_counter() - t0
        print(f"## {name}\n\n{report.markdown.rstrip()}\n", flush=True)
        results = dict(report.results)
        results["elapsed_s"] = elapsed
        paths = [write_json(ctx.out_dir, name, results, machine=info, args=run_args)]
        png = save_plot(ctx.out_dir, name, report.plot)
        if png is not None:
            paths.append(png)
        elif report.plot is not None:
            ctx.log(name, "matplotlib not available: no PNG")
        ctx.log(name, f"finished in {elapsed:.1f} s; wrote {', '.join(str(p) for p in paths)}")
    print(f"[bench] all done in {time.perf_counter() - t_all:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
