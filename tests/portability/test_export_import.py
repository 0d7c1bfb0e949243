"""Export -> fresh database -> import on a year of pipeline data: the API answers byte for
byte as before, the archive and typed tables hold the same documents, a second import changes
nothing, and a damaged export is refused before anything is written."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import psycopg
import pytest

from myhealth import __version__
from myhealth.oura.catalog import DATA_TYPES
from myhealth.portability import manifest as manifest_module
from myhealth.storage import migrate
from myhealth.storage.local_cluster import LocalCluster

from .conftest import (
    DASHBOARD_BOOKKEEPING,
    Year,
    api_answers,
    change_times,
    fresh_database,
    lines,
    row_counts,
    run_cli,
    stored,
)


@pytest.fixture(scope="module")
def exported(year: Year, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "full"
    assert run_cli(["export", "--out", str(out), "--csv"], year.database_url) == 0
    return out


def _manifest(directory: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((directory / "manifest.json").read_text())
    return loaded


def test_the_export_holds_every_document_with_a_true_manifest(year: Year, exported: Path) -> None:
    manifest = _manifest(exported)
    assert manifest["format"] == "myhealth-export"
    assert manifest["product_version"] == __version__
    assert manifest["schema_version"] == migrate.available()[-1].version
    assert manifest["data_types"] == list(DATA_TYPES)
    assert dt.datetime.fromisoformat(str(manifest["created_at"])).tzinfo is not None
    files = {entry["name"]: entry for entry in manifest["files"]}  # type: ignore[attr-defined]
    with psycopg.connect(year.database_url) as conn:
        for name in DATA_TYPES:
            entry = files[f"{name}.jsonl"]
            if name == "heartrate":
                count = conn.execute("SELECT count(*) FROM heart_rate").fetchone()
            else:
                count = conn.execute(
                    "SELECT count(*) FROM oura_documents WHERE data_type = %s", (name,)
                ).fetchone()
            assert count is not None
            assert entry["count"] == count[0] > 0, name
            digest, size, line_count = manifest_module.file_digest(exported / entry["name"])
            assert (entry["sha256"], entry["bytes"], entry["count"]) == (digest, size, line_count)
        days = conn.execute(
            "SELECT min(day)::text, max(day)::text FROM oura_documents WHERE data_type = 'sleep'"
        ).fetchone()
    assert (files["sleep.jsonl"]["first_day"], files["sleep.jsonl"]["last_day"]) == days
    for view in ("sleep_metrics", "activity_metrics", "readiness_metrics"):
        csv_lines = lines(exported / f"{view}.csv")
        assert files[f"{view}.csv"]["count"] == len(csv_lines) - 1 > 300
    # Heart rate in Oura's shape, exact timestamps in UTC.
    sample = json.loads(lines(exported / "heartrate.jsonl")[0])
    assert set(sample) == {"bpm", "source", "timestamp"}
    assert sample["timestamp"].endswith("+00:00")
    assert stat.S_IMODE(exported.stat().st_mode) == 0o700  # health data: the owner's only
    # Nothing but the export itself is left next to it.
    assert sorted(path.name for path in exported.parent.iterdir()) == ["full"]


def test_round_trip_into_a_fresh_database_answers_byte_for_byte(
    year: Year, year_answers: dict[str, Any], exported: Path, pg_cluster: LocalCluster
) -> None:
    target = fresh_database(pg_cluster, "portability_round_trip")
    assert run_cli(["import", str(exported)], target) == 0
    after = api_answers(target, year.start, year.end)
    assert after.keys() == year_answers.keys()
    for route in year_answers:
        if route != DASHBOARD_BOOKKEEPING:
            assert after[route] == year_answers[route], route
    # Collector runs are bookkeeping, not health data: the import records none.
    assert year_answers[DASHBOARD_BOOKKEEPING]["status"] == "succeeded"
    assert after[DASHBOARD_BOOKKEEPING] is None
    assert stored(target) == stored(year.database_url)

    # A second import is a no-op: every document unchanged, no row touched.
    times = change_times(target)
    assert run_cli(["import", str(exported)], target) == 0
    assert change_times(target) == times


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param("truncate", "bytes, the manifest says", id="truncated-file"),
        pytest.param("tamper", "does not match its SHA-256", id="tampered-file"),
        pytest.param("delete", "heartrate.jsonl is missing", id="missing-file"),
        pytest.param("no-manifest", "no manifest.json", id="unfinished-export"),
        pytest.param("newer-schema", "newer than this myhealth knows", id="newer-schema"),
    ],
)
def test_a_damaged_export_is_refused_with_nothing_written(
    exported: Path,
    pg_cluster: LocalCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
    message: str,
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    if damage == "truncate":
        path = copy / "heartrate.jsonl"
        path.write_bytes(path.read_bytes()[:-1000])
    elif damage == "tamper":
        # One digit of one score changed; the file keeps its size and line count.
        path = copy / "daily_sleep.jsonl"
        text = path.read_text()
        at = text.index('"score": ') + len('"score": ')
        digit = "1" if text[at] != "1" else "2"
        path.write_text(text[:at] + digit + text[at + 1 :])
    elif damage == "delete":
        (copy / "heartrate.jsonl").unlink()
    elif damage == "no-manifest":
        (copy / "manifest.json").unlink()
    elif damage == "newer-schema":
        manifest = _manifest(copy)
        manifest["schema_version"] = migrate.available()[-1].version + 1
        (copy / "manifest.json").write_text(json.dumps(manifest))
    target = fresh_database(pg_cluster, f"portability_refused_{damage.replace('-', '_')}")
    empty = row_counts(target)
    assert set(empty.values()) == {0}
    capsys.readouterr()
    code = run_cli(["import", str(copy)], target)
    err = capsys.readouterr().err
    assert code == (4 if damage == "newer-schema" else 3), err
    assert message in err
    assert "nothing was written" in err
    assert len(err.strip().splitlines()) == 1
    assert row_counts(target) == empty


def test_dates_and_types_narrow_the_export(year: Year, tmp_path: Path) -> None:
    start, end = year.end - dt.timedelta(days=40), year.end - dt.timedelta(days=10)
    out = tmp_path / "narrow"
    argv = ["export", "--out", str(out), "--start-date", str(start), "--end-date", str(end)]
    argv += ["--data-types", "daily_sleep,heartrate,enhanced_tag,personal_info"]
    assert run_cli(argv, year.database_url) == 0
    manifest = _manifest(out)
    assert (manifest["start_date"], manifest["end_date"]) == (str(start), str(end))
    names = sorted(path.name for path in out.iterdir())
    assert names == sorted(
        [
            "daily_sleep.jsonl",
            "enhanced_tag.jsonl",
            "heartrate.jsonl",
            "manifest.json",
            "personal_info.jsonl",
        ]
    )
    with psycopg.connect(year.database_url) as conn:
        conn.execute("SET timezone = 'UTC'")

        def ids(data_type: str, day_field: str) -> list[str]:
            rows = conn.execute(
                f"""SELECT id FROM oura_documents WHERE data_type = %s
                    AND (document->>'{day_field}')::date BETWEEN %s AND %s
                    ORDER BY day, id""",
                (data_type, start, end),
            ).fetchall()
            return [row[0] for row in rows]

        heart_rate = conn.execute(
            """SELECT count(*) FROM heart_rate WHERE "timestamp"::date BETWEEN %s AND %s""",
            (start, end),
        ).fetchone()
        sleep_ids = [json.loads(line)["id"] for line in lines(out / "daily_sleep.jsonl")]
        assert sleep_ids == ids("daily_sleep", "day") != []
        tags = [json.loads(line)["id"] for line in lines(out / "enhanced_tag.jsonl")]
        assert tags == ids("enhanced_tag", "start_day")
    samples = [json.loads(line) for line in lines(out / "heartrate.jsonl")]
    assert heart_rate is not None
    assert len(samples) == heart_rate[0] > 0
    assert {sample["timestamp"][:10] for sample in samples} <= {
        str(start + dt.timedelta(days=n)) for n in range((end - start).days + 1)
    }
    assert len(lines(out / "personal_info.jsonl")) == 1  # undated: the range does not apply


def test_an_existing_directory_is_never_overwritten(
    year: Year, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run_cli(["export", "--out", str(out)], year.database_url) == 2
    assert "already exists" in capsys.readouterr().err
    assert [path.name for path in out.iterdir()] == ["notes.txt"]


def test_a_failed_export_leaves_no_directory_behind(
    empty_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never"
    assert run_cli(["export", "--out", str(out)], empty_database_url) == 1
    assert "run `myhealth migrate` first" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unknown_types_and_reversed_dates_are_refused_before_anything_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    out = str(tmp_path / "x")
    assert run_cli(["export", "--out", out, "--data-types", "sleep,naps"], url) == 2
    assert "unknown data type(s): naps" in capsys.readouterr().err
    dates = ["--start-date", "2026-02-01", "--end-date", "2026-01-01"]
    assert run_cli(["export", "--out", out, *dates], url) == 2
    assert "--start-date is after --end-date" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_import_validates_like_ingest_and_quarantines_what_it_refuses(
    exported: Path, pg_cluster: LocalCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hand-made export whose hashes are right but whose second document lacks its day:
    the first is stored, the second quarantined with ingest's reason, exit 1."""
    good = lines(exported / "daily_sleep.jsonl")[0]
    bad = json.loads(good)
    del bad["day"]
    bad["id"] = "no-day"
    directory = tmp_path / "hand-made"
    directory.mkdir()
    path = directory / "daily_sleep.jsonl"
    path.write_text(good + "\n" + json.dumps(bad) + "\n")
    digest, size, count = manifest_module.file_digest(path)
    entry = manifest_module.FileEntry(
        "daily_sleep.jsonl", manifest_module.DOCUMENTS, "daily_sleep", count, size, digest
    )
    manifest = manifest_module.Manifest(
        __version__, migrate.available()[-1].version, "2026-03-31T00:00:00+00:00", None, None,
        ["daily_sleep"], [entry],
    )  # fmt: skip
    (directory / "manifest.json").write_text(manifest.as_json())
    target = fresh_database(pg_cluster, "portability_hand_made")
    capsys.readouterr()
    assert run_cli(["import", str(directory)], target) == 1
    captured = capsys.readouterr()
    assert "daily_sleep: 2 received, 1 inserted, 0 updated, 0 unchanged, 1 rejected" in captured.out
    assert "line 2 (no-day)" in captured.err
    with psycopg.connect(target) as conn:
        stored_ids = conn.execute("SELECT id FROM daily_sleep").fetchall()
        quarantined = conn.execute(
            "SELECT document_id, reason_code FROM quarantined_documents"
        ).fetchall()
    assert stored_ids == [(json.loads(good)["id"],)]
    assert [row[0] for row in quarantined] == ["no-day"]
