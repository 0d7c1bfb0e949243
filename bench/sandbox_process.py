"""The sandbox as its own process with a frozen clock and a chosen first day of history.

`myhealth sandbox` always runs on real time from 2021-01-01; the benchmarks need "now" fixed
for the whole run (an incremental run must find nothing new) and a history of a chosen length
ending today, so this launcher serves the same app (`create_app`) with those two settings;
with `--replay`, behind `bench.replay.Replay` (answers kept from a warm-up, see there).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os

import uvicorn

from bench.replay import Replay
from myhealth.platform.config import SandboxSettings, load
from myhealth.sandbox.server import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox_process")
    parser.add_argument("--now", required=True, type=dt.datetime.fromisoformat)
    parser.add_argument("--first-day", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--replay", action="store_true", help="answer repeated requests from memory (bench.replay)"
    )
    args = parser.parse_args()
    settings = load(SandboxSettings, {**os.environ, "SANDBOX_SEED": str(args.seed)})
    app = create_app(settings, now=args.now, first_day=args.first_day)
    uvicorn.run(
        Replay(app) if args.replay else app,
        host=settings.HOST,
        port=settings.PORT,
        log_config=None,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
