"""`make bench` / `python -m bench [--quick] [--only NAME[,NAME]] [--results DIR]`.

Benchmarks, not tests: they print tables and write `bench/results/<name>.json` and assert
nothing about time. `--quick` runs tiny sizes and writes to `bench/results/tmp/` (git-ignored)
so a quick look never replaces the committed full-size numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.api import run_api
from bench.backfill import run_backfill, run_incremental
from bench.common import QUICK_RESULTS_DIR, RESULTS_DIR, Context, Databases, Sizes
from bench.export import run_export
from bench.footprint import run_footprint
from bench.ingest import run_ingest

# In this order: the API and the incremental run reuse the backfilled database.
BENCHMARKS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "backfill": run_backfill,
    "incremental": run_incremental,
    "ingest": run_ingest,
    "api": run_api,
    "footprint": run_footprint,
    "export": run_export,
}


def run(names: Sequence[str], ctx: Context) -> dict[str, dict[str, Any]]:
    """Run the named benchmarks in suite order; always stops the cluster it started."""
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in BENCHMARKS:
            if name in names:
                started = time.monotonic()
                print(f"== {name} ...", flush=True)
                results[name] = BENCHMARKS[name](ctx)
                print(f"== {name} done in {time.monotonic() - started:.1f} s", flush=True)
    finally:
        dbs = ctx.shared.get("databases")
        if isinstance(dbs, Databases):
            dbs.stop()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (20 days of history)")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--results", type=Path, help="where the JSON files go")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS)
    if args.only:
        names = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in names if name not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results_dir = args.results or (QUICK_RESULTS_DIR if args.quick else RESULTS_DIR)
    ctx = Context(Sizes.for_mode(args.quick), results_dir)
    started = time.monotonic()
    run(names, ctx)
    print(f"all done in {time.monotonic() - started:.1f} s; results in {results_dir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
