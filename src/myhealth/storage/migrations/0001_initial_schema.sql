-- myHealth initial schema.
--
-- Three layers:
--   1. oura_documents: every Oura document ever received, verbatim, latest version per
--      (data_type, id), so new fields can be derived later without re-fetching.
--      quarantined_documents: what failed validation, verbatim, with the reason.
--   2. One typed table per Oura data type, keyed by the Oura document id (heart rate by
--      timestamp + source, cardiovascular age by day). Column names are Oura's field names.
--   3. Sync bookkeeping for the collector: checkpoints, runs, OAuth tokens.
-- The daily relations the API and dashboards read are views (0002).

CREATE TABLE oura_documents (
    data_type       text        NOT NULL,
    id              text        NOT NULL,
    day             date,
    document        jsonb       NOT NULL,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (data_type, id)
);
CREATE INDEX oura_documents_type_day_idx ON oura_documents (data_type, day);

CREATE TABLE quarantined_documents (
    quarantine_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    data_type     text        NOT NULL,
    document_id   text,
    document      jsonb       NOT NULL,
    reason        text        NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantined_documents_received_idx ON quarantined_documents (received_at);

-- Typed tables. created_at/updated_at: updated_at moves only when a value really changed.

CREATE TABLE daily_sleep (
    id            text PRIMARY KEY,
    day           date        NOT NULL,
    score         integer,
    "timestamp"   timestamptz,
    contributors  jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX daily_sleep_day_idx ON daily_sleep (day);

CREATE TABLE sleep_periods (
    id                      text PRIMARY KEY,
    day                     date        NOT NULL,
    type                    text,
    period                  integer,
    bedtime_start           timestamptz,
    bedtime_end             timestamptz,
    time_in_bed             integer,
    total_sleep_duration    integer,
    awake_time              integer,
    light_sleep_duration    integer,
    deep_sleep_duration     integer,
    rem_sleep_duration      integer,
    latency                 integer,
    efficiency              integer,
    average_breath          double precision,
    average_heart_rate      double precision,
    lowest_heart_rate       integer,
    average_hrv             integer,
    restless_periods        integer,
    low_battery_alert       boolean,
    readiness_score_delta   integer,
    sleep_score_delta       integer,
    sleep_algorithm_version text,
    sleep_analysis_reason   text,
    sleep_phase_5_min       text,
    sleep_phase_30_sec      text,
    app_sleep_phase_5_min   text,
    movement_30_sec         text,
    heart_rate              jsonb,
    hrv                     jsonb,
    readiness               jsonb,
    ring_id                 text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sleep_periods_day_idx ON sleep_periods (day);

CREATE TABLE daily_activity (
    id                          text PRIMARY KEY,
    day                         date        NOT NULL,
    score                       integer,
    "timestamp"                 timestamptz,
    steps                       integer,
    total_calories              integer,
    active_calories             integer,
    target_calories             integer,
    equivalent_walking_distance integer,
    meters_to_target            integer,
    target_meters               integer,
    high_activity_time          integer,
    medium_activity_time        integer,
    low_activity_time           integer,
    sedentary_time              integer,
    resting_time                integer,
    non_wear_time               integer,
    high_activity_met_minutes   integer,
    medium_activity_met_minutes integer,
    low_activity_met_minutes    integer,
    sedentary_met_minutes       integer,
    average_met_minutes         double precision,
    inactivity_alerts           integer,
    class_5_min                 text,
    met                         jsonb,
    contributors                jsonb,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX daily_activity_day_idx ON daily_activity (day);

CREATE TABLE daily_readiness (
    id                          text PRIMARY KEY,
    day                         date        NOT NULL,
    score                       integer,
    "timestamp"                 timestamptz,
    temperature_deviation       double precision,
    temperature_trend_deviation double precision,
    contributors                jsonb,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX daily_readiness_day_idx ON daily_readiness (day);

CREATE TABLE heart_rate (
    "timestamp" timestamptz NOT NULL,
    source      text        NOT NULL,
    bpm         integer     NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY ("timestamp", source)
);

CREATE TABLE workouts (
    id             text PRIMARY KEY,
    day            date        NOT NULL,
    activity       text,
    calories       double precision,
    distance       double precision,
    start_datetime timestamptz,
    end_datetime   timestamptz,
    intensity      text,
    label          text,
    source         text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workouts_day_idx ON workouts (day);

CREATE TABLE sessions (
    id                     text PRIMARY KEY,
    day                    date        NOT NULL,
    type                   text,
    start_datetime         timestamptz,
    end_datetime           timestamptz,
    mood                   text,
    heart_rate             jsonb,
    heart_rate_variability jsonb,
    motion_count           jsonb,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_day_idx ON sessions (day);

CREATE TABLE tags (
    id          text PRIMARY KEY,
    day         date        NOT NULL,
    text        text,
    "timestamp" timestamptz,
    tags        text[],
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tags_day_idx ON tags (day);

CREATE TABLE enhanced_tags (
    id            text PRIMARY KEY,
    start_day     date        NOT NULL,
    end_day       date,
    start_time    timestamptz,
    end_time      timestamptz,
    tag_type_code text,
    comment       text,
    custom_name   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enhanced_tags_start_day_idx ON enhanced_tags (start_day);

CREATE TABLE daily_spo2 (
    id                          text PRIMARY KEY,
    day                         date        NOT NULL,
    spo2_percentage             jsonb,
    breathing_disturbance_index integer,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX daily_spo2_day_idx ON daily_spo2 (day);

CREATE TABLE daily_stress (
    id            text PRIMARY KEY,
    day           date        NOT NULL,
    stress_high   integer,
    recovery_high integer,
    day_summary   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX daily_stress_day_idx ON daily_stress (day);

CREATE TABLE daily_resilience (
    id           text PRIMARY KEY,
    day          date        NOT NULL,
    level        text,
    contributors jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX daily_resilience_day_idx ON daily_resilience (day);

-- Keyed by day: real responses have been seen without an id.
CREATE TABLE daily_cardiovascular_age (
    day                 date PRIMARY KEY,
    id                  text,
    vascular_age        integer,
    pulse_wave_velocity double precision,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vo2_max (
    id          text PRIMARY KEY,
    day         date        NOT NULL,
    "timestamp" timestamptz,
    vo2_max     integer,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vo2_max_day_idx ON vo2_max (day);

CREATE TABLE sleep_time (
    id              text PRIMARY KEY,
    day             date        NOT NULL,
    optimal_bedtime jsonb,
    recommendation  text,
    status          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sleep_time_day_idx ON sleep_time (day);

CREATE TABLE rest_mode_periods (
    id         text PRIMARY KEY,
    start_day  date        NOT NULL,
    end_day    date,
    start_time timestamptz,
    end_time   timestamptz,
    episodes   jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rest_mode_periods_start_day_idx ON rest_mode_periods (start_day);

CREATE TABLE ring_configurations (
    id               text PRIMARY KEY,
    color            text,
    design           text,
    firmware_version text,
    hardware_type    text,
    set_up_at        timestamptz,
    size             integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE personal_info (
    id             text PRIMARY KEY,
    age            integer,
    weight         double precision,
    height         double precision,
    biological_sex text,
    email          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Collector bookkeeping.

-- The last day of each data type that the processor has acknowledged; only moves forward.
CREATE TABLE sync_checkpoints (
    data_type  text PRIMARY KEY,
    last_day   date        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sync_runs (
    run_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status      text        NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'succeeded', 'failed')),
    data_types  text[]      NOT NULL,
    start_date  date,
    end_date    date,
    counts      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error       text
);
CREATE INDEX sync_runs_started_idx ON sync_runs (started_at DESC);

-- Per-type outcome of each run, the source of the "last successful sync" freshness signal.
CREATE TABLE sync_run_types (
    run_id      bigint NOT NULL REFERENCES sync_runs (run_id) ON DELETE CASCADE,
    data_type   text   NOT NULL,
    status      text   NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    start_date  date,
    end_date    date,
    documents   integer NOT NULL DEFAULT 0,
    error       text,
    finished_at timestamptz,
    PRIMARY KEY (run_id, data_type)
);
CREATE INDEX sync_run_types_type_idx ON sync_run_types (data_type, finished_at DESC);

-- The owner's OAuth token pair (one row). Refresh tokens are single-use and rotate, so the
-- new pair is written here, in one statement, before the new access token is used.
CREATE TABLE oauth_tokens (
    provider      text PRIMARY KEY DEFAULT 'oura',
    access_token  text,
    refresh_token text,
    expires_at    timestamptz,
    scope         text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
