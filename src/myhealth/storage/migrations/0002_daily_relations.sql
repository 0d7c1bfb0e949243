-- The three daily relations (docs/architecture.md#the-daily-relations), as views over the typed
-- tables so they are always consistent with the stored documents.

-- The main sleep period of each day: among that day's long_sleep periods the one with the
-- largest total_sleep_duration (a tie goes to the later bedtime_end); when there is none,
-- the same choice among type 'sleep'. rest, deleted and late_nap are never the main period.
CREATE VIEW main_sleep_periods AS
SELECT DISTINCT ON (day) *
FROM sleep_periods
WHERE type IN ('long_sleep', 'sleep')
ORDER BY day,
         (type = 'long_sleep') DESC,
         total_sleep_duration DESC NULLS LAST,
         bedtime_end DESC NULLS LAST,
         id;

-- One document per day for the daily collections: Oura sends one; should a revision ever
-- arrive under a new id, the most recently changed one wins.
CREATE VIEW latest_daily_sleep AS
SELECT DISTINCT ON (day) * FROM daily_sleep ORDER BY day, updated_at DESC, id;

CREATE VIEW latest_daily_activity AS
SELECT DISTINCT ON (day) * FROM daily_activity ORDER BY day, updated_at DESC, id;

CREATE VIEW latest_daily_readiness AS
SELECT DISTINCT ON (day) * FROM daily_readiness ORDER BY day, updated_at DESC, id;

CREATE VIEW sleep_metrics AS
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
FROM (SELECT day FROM daily_sleep UNION SELECT day FROM main_sleep_periods) AS days
LEFT JOIN latest_daily_sleep AS ds ON ds.day = days.day
LEFT JOIN main_sleep_periods AS m ON m.day = days.day;

CREATE VIEW activity_metrics AS
SELECT a.day                                                           AS date,
       a.score                                                         AS score,
       a.steps                                                         AS steps,
       a.total_calories                                                AS calories,
       a.active_calories                                               AS active_calories,
       round((a.high_activity_time + a.medium_activity_time) / 60.0)::integer AS active_minutes
FROM latest_daily_activity AS a;

CREATE VIEW readiness_metrics AS
SELECT r.day                   AS date,
       r.score                 AS score,
       m.average_hrv           AS hrv,
       m.lowest_heart_rate     AS resting_hr,
       r.temperature_deviation AS temperature_deviation
FROM latest_daily_readiness AS r
LEFT JOIN main_sleep_periods AS m ON m.day = r.day;
