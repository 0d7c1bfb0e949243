-- Collector metrics that stay cheap however long the collector has been running.
--
-- The processor's /metrics used to sum the JSON counts of every sync run ever recorded; with
-- a run every five minutes that grows without bound. Instead:
--   * collector_totals holds running totals of `sync_runs.counts -> 'oura_requests'` and
--     `-> 'oura_retries'`, kept by a trigger as runs are written (so every writer of
--     sync_runs, not only the collector, keeps them right), and unaffected when old runs are
--     pruned (`SYNC_RUN_RETENTION_DAYS`);
--   * the "latest run" lookups get indexes so each is a single index probe.

CREATE TABLE collector_totals (
    counter text             NOT NULL CHECK (counter IN ('oura_requests', 'oura_retries')),
    key     text             NOT NULL,
    total   double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (counter, key)
);

-- The numeric entries of one counts object (`{"<key>": n}`); anything else is ignored, as the
-- scrape always ignored it.
CREATE FUNCTION collector_count_entries(counts jsonb, counter text)
RETURNS TABLE (key text, n double precision)
LANGUAGE sql IMMUTABLE AS $$
    SELECT entry.key, (entry.value)::text::double precision
    FROM jsonb_each(CASE jsonb_typeof(counts -> counter)
                    WHEN 'object' THEN counts -> counter ELSE '{}'::jsonb END) AS entry
    WHERE jsonb_typeof(entry.value) = 'number'
$$;

-- Adds what the runs' counts gained in one statement (the whole counts of inserted runs).
-- Statement-level, set-based: one upsert per statement however many runs it wrote (updating
-- the same totals row once per run inside one transaction would cost O(runs^2)).
CREATE FUNCTION collector_totals_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO collector_totals AS t (counter, key, total)
        SELECT kind, entry.key, sum(entry.n)
        FROM new_runs,
             unnest(ARRAY['oura_requests', 'oura_retries']) AS kind,
             collector_count_entries(new_runs.counts, kind) AS entry
        GROUP BY kind, entry.key
        ON CONFLICT (counter, key) DO UPDATE SET total = t.total + EXCLUDED.total;
    ELSE
        INSERT INTO collector_totals AS t (counter, key, total)
        SELECT kind, changes.key, sum(changes.n)
        FROM (SELECT kind, entry.key, entry.n
              FROM new_runs,
                   unnest(ARRAY['oura_requests', 'oura_retries']) AS kind,
                   collector_count_entries(new_runs.counts, kind) AS entry
              UNION ALL
              SELECT kind, entry.key, -entry.n
              FROM old_runs,
                   unnest(ARRAY['oura_requests', 'oura_retries']) AS kind,
                   collector_count_entries(old_runs.counts, kind) AS entry) AS changes
        GROUP BY kind, changes.key
        HAVING sum(changes.n) <> 0
        ON CONFLICT (counter, key) DO UPDATE SET total = t.total + EXCLUDED.total;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sync_runs_collector_totals_insert
AFTER INSERT ON sync_runs
REFERENCING NEW TABLE AS new_runs
FOR EACH STATEMENT EXECUTE FUNCTION collector_totals_track();

CREATE TRIGGER sync_runs_collector_totals_update
AFTER UPDATE ON sync_runs
REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
FOR EACH STATEMENT EXECUTE FUNCTION collector_totals_track();

-- What earlier runs already counted.
INSERT INTO collector_totals (counter, key, total)
SELECT counter, entry.key, sum(entry.n)
FROM sync_runs,
     unnest(ARRAY['oura_requests', 'oura_retries']) AS counter,
     collector_count_entries(sync_runs.counts, counter) AS entry
GROUP BY counter, entry.key;

-- Latest finished run per status (myhealth_collector_last_run_timestamp_seconds, and the
-- reauthentication flag of the latest finished run).
CREATE INDEX sync_runs_status_finished_idx
    ON sync_runs (status, (coalesce(finished_at, started_at)), run_id);

-- Latest success per data type (myhealth_sync_last_success_timestamp_seconds).
CREATE INDEX sync_run_types_succeeded_idx
    ON sync_run_types (data_type, finished_at)
    WHERE status = 'succeeded' AND finished_at IS NOT NULL;
