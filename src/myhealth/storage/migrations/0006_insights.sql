-- Personal baselines, deviations and flags (docs/architecture.md#insights).
--
-- Computed by the processor (myhealth.insights) from the daily relations after every ingest
-- batch of the types they read, over the days the batch can change: its own days and the 60
-- after them, whose baselines include them. Tables, not views: a rolling median over 60 days
-- has no cheap SQL form, and the API, the dashboards and /metrics read the result often.

-- One row per metric and day that has a value.
CREATE TABLE insight_metrics (
    metric          text             NOT NULL,
    date            date             NOT NULL,
    value           double precision NOT NULL,
    -- days with a value among the 60 before `date`
    history_days    integer          NOT NULL CHECK (history_days >= 0),
    -- null while history_days < the minimum (no judgement yet)
    baseline_median double precision,
    baseline_mad    double precision CHECK (baseline_mad >= 0),
    z_score         double precision,
    PRIMARY KEY (metric, date)
);
CREATE INDEX insight_metrics_date ON insight_metrics (date);

-- One row per flag and day on which the flag's condition held; `streak_days` counts the
-- consecutive calendar days it has held, ending on `date`. The flag is raised on a day whose
-- streak reaches the flag's required number of days.
CREATE TABLE insight_flag_days (
    flag        text    NOT NULL,
    date        date    NOT NULL,
    streak_days integer NOT NULL CHECK (streak_days >= 1),
    PRIMARY KEY (flag, date)
);
CREATE INDEX insight_flag_days_date ON insight_flag_days (date);

-- The version of the rules the stored rows were computed with: when the processor's rules are
-- newer (or nothing was computed yet, e.g. right after this migration on an existing
-- database), its next refresh recomputes every day.
CREATE TABLE insight_state (
    singleton     boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    rules_version integer     NOT NULL,
    computed_at   timestamptz NOT NULL DEFAULT now()
);
