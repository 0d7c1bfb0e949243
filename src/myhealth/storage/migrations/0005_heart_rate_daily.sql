-- Reads the API makes many times a second, made cheap (docs/performance.md#the-api-reads).

-- 1. The daily heart-rate rollup (docs/architecture.md#the-daily-heart-rate-rollup): per local
--    day of the zone in heart_rate_daily_zone, the count, sum, min and max of the samples,
--    so a year's trend reads 365 rows instead of ~137 000 samples. The processor keeps it
--    exact in the transaction that stores a heart-rate batch, and rebuilds it when its
--    USER_TIMEZONE differs from the stored zone. Empty until the processor first builds it;
--    until then (and whenever the zone is not the API's) the API reads the samples.
CREATE TABLE heart_rate_daily (
    day     date    PRIMARY KEY,
    samples bigint  NOT NULL CHECK (samples > 0),
    bpm_sum bigint  NOT NULL,
    bpm_min integer NOT NULL,
    bpm_max integer NOT NULL
);

-- One row: the zone heart_rate_daily's days belong to (absent: never built).
CREATE TABLE heart_rate_daily_zone (
    only_row boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    timezone text        NOT NULL,
    built_at timestamptz NOT NULL DEFAULT now()
);

-- 2. The sleep and readiness views, same rows, read per day: their main sleep period and
--    latest daily_sleep were DISTINCT ON views joined to the days, and a date range on the
--    days never reached them, so every read sorted all of sleep_periods (wide rows). Here
--    each day looks its own rows up through the day indexes. The choice is the one
--    main_sleep_periods and latest_daily_sleep make (0002), which stay for other readers.
CREATE OR REPLACE VIEW sleep_metrics AS
SELECT days.day                             AS date,
       ds.score                             AS score,
       m.total_sleep_duration               AS duration_seconds,
       m.efficiency                         AS efficiency,
       round(m.latency / 60.0)::integer     AS latency_minutes,
       m.deep_sleep_duration                AS deep_sleep_seconds,
       m.light_sleep_duration               AS light_sleep_seconds,
       m.rem_sleep_duration                 AS rem_sleep_seconds,
       m.average_hrv                        AS average_hrv,
       m.lowest_heart_rate                  AS lowest_heart_rate
FROM (SELECT day FROM daily_sleep
      UNION
      SELECT day FROM sleep_periods WHERE type IN ('long_sleep', 'sleep')) AS days
LEFT JOIN LATERAL (
    SELECT d.score FROM daily_sleep AS d
    WHERE d.day = days.day
    ORDER BY d.updated_at DESC, d.id
    LIMIT 1) AS ds ON true
LEFT JOIN LATERAL (
    SELECT p.total_sleep_duration, p.efficiency, p.latency, p.deep_sleep_duration,
           p.light_sleep_duration, p.rem_sleep_duration, p.average_hrv, p.lowest_heart_rate
    FROM sleep_periods AS p
    WHERE p.day = days.day AND p.type IN ('long_sleep', 'sleep')
    ORDER BY (p.type = 'long_sleep') DESC,
             p.total_sleep_duration DESC NULLS LAST,
             p.bedtime_end DESC NULLS LAST,
             p.id
    LIMIT 1) AS m ON true;

CREATE OR REPLACE VIEW readiness_metrics AS
SELECT r.day                   AS date,
       r.score                 AS score,
       m.average_hrv           AS hrv,
       m.lowest_heart_rate     AS resting_hr,
       r.temperature_deviation AS temperature_deviation
FROM latest_daily_readiness AS r
LEFT JOIN LATERAL (
    SELECT p.average_hrv, p.lowest_heart_rate
    FROM sleep_periods AS p
    WHERE p.day = r.day AND p.type IN ('long_sleep', 'sleep')
    ORDER BY (p.type = 'long_sleep') DESC,
             p.total_sleep_duration DESC NULLS LAST,
             p.bedtime_end DESC NULLS LAST,
             p.id
    LIMIT 1) AS m ON true;
