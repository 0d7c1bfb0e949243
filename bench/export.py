"""Export and import: wall time and peak memory of `myhealth export` / `myhealth import` at two
sizes, to show that memory stays flat as the data grows.

Each size is a fresh database holding the sandbox person's documents of every type for the
history (written straight into the `oura_documents` archive, which is what `export` reads) and
one heart-rate sample a minute (about 2.6 million for five years, more than a ring records,
written with `generate_series`). The commands run as their own processes through
`bench/spawn.py`, so their `ru_maxrss` is their own. Floor: the same rows streamed out of
PostgreSQL with `COPY (...) TO STDOUT` and thrown away, in this process.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.backfill import databases
from bench.common import (
    SEED,
    Context,
    postgres_version,
    ratio,
    run_measured,
    table,
    write_result,
)
from myhealth.oura.catalog import DATA_TYPES
from myhealth.sandbox.generator import Person

HEART_RATE_STEP = "1 minute"
UNDATED = ("personal_info", "ring_configuration")


def _documents(person: Person, name: str, day: dt.date) -> list[dict[str, Any]]:
    if name == "personal_info":
        return [person.personal_info()]
    if name == "ring_configuration":
        return person.ring_configurations()
    return person.documents(name, day)


def fill(database_url: str, first_day: dt.date, days: int) -> dict[str, int]:
    """Documents of every type for `days` days from `first_day`, and heart rate each minute."""
    person = Person(SEED, first_day=first_day)
    counts: dict[str, int] = {}
    with psycopg.connect(database_url) as conn:
        with (
            conn.cursor() as cursor,
            cursor.copy("COPY oura_documents (data_type, id, day, document) FROM STDIN") as copy,
        ):
            for name, data_type in DATA_TYPES.items():
                if name == "heartrate":
                    continue
                seen: set[str] = set()
                for offset in range(1 if name in UNDATED else days):
                    day = first_day + dt.timedelta(days=offset)
                    for document in _documents(person, name, day):
                        key = str(document.get("id") or document.get("day"))
                        if key in seen:
                            continue
                        seen.add(key)
                        day_value = document.get(data_type.day_field or "")
                        copy.write_row((name, key, day_value, json.dumps(document)))
                counts[name] = len(seen)
        start = dt.datetime.combine(first_day, dt.time(), tzinfo=dt.UTC)
        end = start + dt.timedelta(days=days)
        conn.execute(
            """INSERT INTO heart_rate ("timestamp", source, bpm)
               SELECT ts, 'awake', 50 + (extract(epoch FROM ts)::bigint / 60 %% 61)::int
               FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 second',
                                    %s::interval) AS ts""",
            (start, end, HEART_RATE_STEP),
        )
        row = conn.execute("SELECT count(*) FROM heart_rate").fetchone()
        counts["heartrate"] = int(row[0]) if row else 0
    return counts


def floor_seconds(database_url: str) -> float:
    """Stream what the export reads out of PostgreSQL and throw it away."""
    started = time.monotonic()
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        for query in (
            "COPY (SELECT day, document::text FROM oura_documents ORDER BY data_type, day, id) "
            "TO STDOUT",
            """COPY (SELECT json_build_object('bpm', bpm, 'source', source,
                                              'timestamp', to_json("timestamp"))::text
                     FROM heart_rate ORDER BY "timestamp", source) TO STDOUT""",
        ):
            with cursor.copy(query) as copy:
                for _ in copy:
                    pass
    return time.monotonic() - started


def _one_size(ctx: Context, days: int, scratch: Path) -> dict[str, Any]:
    dbs = databases(ctx)
    source = dbs.fresh("export_source")
    first_day = ctx.today - dt.timedelta(days=days - 1)
    counts = fill(source, first_day, days)
    out = scratch / f"export-{days}"
    timeout = ctx.sizes.step_timeout
    exported = run_measured(
        ["-m", "myhealth", "export", "--out", str(out)], {"DATABASE_URL": source}, timeout
    )
    if exported.returncode != 0:
        raise RuntimeError(f"export failed: {exported.stderr[-2000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    written = {entry["data_type"]: entry["count"] for entry in manifest["files"]}
    size = sum(path.stat().st_size for path in out.iterdir())
    floor = floor_seconds(source)
    target = dbs.fresh("import_target")
    imported = run_measured(
        ["-m", "myhealth", "import", str(out)], {"DATABASE_URL": target}, timeout
    )
    if imported.returncode != 0:
        raise RuntimeError(f"import failed: {imported.stderr[-2000:]}")
    with psycopg.connect(target) as conn:
        row = conn.execute("SELECT count(*) FROM heart_rate").fetchone()
        stored_samples = int(row[0]) if row else 0
        row = conn.execute("SELECT count(*) FROM oura_documents").fetchone()
        stored_documents = int(row[0]) if row else 0
    samples = counts["heartrate"]
    documents = sum(count for name, count in counts.items() if name != "heartrate")
    return {
        "days": days,
        "documents": documents,
        "heart_rate_samples": samples,
        "exported": written,
        "export_bytes": size,
        "export_seconds": round(exported.seconds, 2),
        "export_cpu_seconds": exported.cpu_seconds,
        "export_peak_rss_mib": exported.max_rss_mib,
        "floor_seconds": round(floor, 2),
        "export_over_floor": ratio(exported.seconds, floor),
        "import_seconds": round(imported.seconds, 2),
        "import_cpu_seconds": imported.cpu_seconds,
        "import_peak_rss_mib": imported.max_rss_mib,
        "imported_documents": stored_documents,
        "imported_heart_rate_samples": stored_samples,
    }


def run_export(ctx: Context) -> dict[str, Any]:
    full = ctx.sizes.history_days
    sizes = [max(2, full // 5), full]
    with tempfile.TemporaryDirectory(prefix="bench-export-") as scratch:
        runs = [_one_size(ctx, days, Path(scratch)) for days in sizes]
    rows = [
        [
            f"{run['days']} days",
            run["documents"],
            run["heart_rate_samples"],
            round(run["export_bytes"] / 1e6, 1),
            run["export_seconds"],
            run["floor_seconds"],
            run["export_over_floor"],
            run["export_peak_rss_mib"],
            run["import_seconds"],
            run["import_peak_rss_mib"],
        ]
        for run in runs
    ]
    text = table(
        "Export and import (each command its own process; floor: COPY TO STDOUT)",
        [
            "history",
            "documents",
            "HR samples",
            "MB",
            "export s",
            "floor s",
            "ours/floor",
            "export peak RSS MiB",
            "import s",
            "import peak RSS MiB",
        ],
        rows,
    )
    source_url = databases(ctx).fresh("export_version")
    write_result(
        ctx,
        "export",
        parameters={"sizes_days": sizes, "heart_rate_step": HEART_RATE_STEP},
        results={"runs": runs},
        tables=[text],
        postgres=postgres_version(source_url),
    )
    return {"runs": runs}
