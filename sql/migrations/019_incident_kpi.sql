-- The station's numbers (issue 12 §5): what each incident's figures need, kept current when the
-- incident and its steps are stored (the triggers of sql/functions/74_kpis.sql), so the numbers
-- of a period are one pass over one narrow row per incident instead of a join of incidents,
-- their steps and a spatial search for earlier calls. The row is derived, never written by the
-- service: incident and incident_step stay the record.

CREATE TABLE incident_kpi (
    incident_id bigint PRIMARY KEY REFERENCES incident (id) ON DELETE CASCADE,
    received_at timestamptz NOT NULL,
    hour        smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),  -- station time (UTC+8)
    police      boolean NOT NULL,             -- category <> 'non_police'
    village_id  int,
    grid_id     int,                          -- what row-level security filters on
    beat_id     int,
    -- time since the latest earlier call from the same caller phone, or of the same category
    -- within incident_kpi_rule.repeat_metres (looking back at most 365 days); NULL: none
    repeat_gap  interval,
    dispatch_at timestamptz,                  -- first dispatch
    arrive_at   timestamptz,                  -- first arrival, reported or automatic
    divert_at   timestamptz,                  -- first diversion to the response team
    accept_at   timestamptz,                  -- first acceptance by the team
    callback    text,                         -- the last callback's answer
    cancelled   boolean NOT NULL DEFAULT false
);
CREATE INDEX incident_kpi_received_idx ON incident_kpi (received_at);

-- The radius repeat_gap was computed with. The numbers asked with another radius (the
-- REPEAT_METRES setting changed) search for earlier calls on the fly, right but slower, until
-- incident_kpi_restamp(metres) is run once as the owner.
CREATE TABLE incident_kpi_rule (
    only_row      boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    repeat_metres double precision NOT NULL CHECK (repeat_metres > 0)
);
INSERT INTO incident_kpi_rule (repeat_metres) VALUES (100);
