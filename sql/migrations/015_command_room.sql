-- The command room (综合指挥室, issue 12): calls taken live, units on duty with their last
-- position and status, each incident's timeline (处警全过程), and the event log that the live
-- map's stream reads (every row is NOTIFYed on channel command_event after commit, by the
-- triggers of sql/functions/70_command.sql).

-- Calls carry what the call-taker typed. Incidents loaded as history have none of it.
ALTER TABLE incident
    ADD COLUMN caller_phone text CHECK (caller_phone ~ '^[0-9+\-]{3,20}$'),
    ADD COLUMN address text CHECK (length(address) <= 500),
    ADD COLUMN description text CHECK (length(description) <= 4000),
    -- who took the call (a user name; NULL for incidents loaded from a file)
    ADD COLUMN taken_by text;
ALTER TABLE incident DROP CONSTRAINT incident_status_check;
ALTER TABLE incident ADD CONSTRAINT incident_status_check
    CHECK (status IN ('received', 'dispatched', 'arrived', 'closed', 'diverted', 'accepted',
                      'cancelled'));
CREATE INDEX incident_caller_phone_idx ON incident (caller_phone, received_at)
    WHERE caller_phone IS NOT NULL;
CREATE INDEX incident_open_idx ON incident (received_at)
    WHERE status IN ('received', 'dispatched', 'arrived', 'diverted', 'accepted');

-- A unit on duty: a person under a call sign, in a kind of vehicle, for a period. A call sign is
-- one unit at a time.
CREATE TABLE duty_shift (
    id          serial PRIMARY KEY,
    person_id   int NOT NULL REFERENCES person (id),
    call_sign   text NOT NULL CHECK (call_sign ~ '^[A-Za-z0-9_\-]{1,32}$'),
    unit_kind   text NOT NULL CHECK (unit_kind IN ('car', 'motorbike', 'ebike', 'foot')),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    CHECK (ends_at > starts_at),
    EXCLUDE USING gist (call_sign WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
);
CREATE INDEX duty_shift_person_idx ON duty_shift (person_id, starts_at);
CREATE INDEX duty_shift_period_idx ON duty_shift USING gist (tstzrange(starts_at, ends_at, '[)'));

-- Each unit's state, kept current: its last fix and what it is doing. "off_duty" is what a unit
-- outside its shift is, whatever this row says (the readers compare with duty_shift).
CREATE TABLE unit_state (
    call_sign   text PRIMARY KEY CHECK (call_sign ~ '^[A-Za-z0-9_\-]{1,32}$'),
    person_id   int NOT NULL REFERENCES person (id),
    status      text NOT NULL CHECK (status IN ('available', 'dispatched', 'on_scene',
                                                'off_duty')),
    incident_id bigint REFERENCES incident (id) ON DELETE SET NULL,
    geom        geometry(Point, 4326),
    fixed_at    timestamptz,
    grid_id     int REFERENCES grid (id),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((status IN ('dispatched', 'on_scene')) = (incident_id IS NOT NULL))
);
CREATE INDEX unit_state_geom_gix ON unit_state USING gist (geom);

-- One step of an incident's handling. Arrivals are reported (by the unit or the command room)
-- or automatic (a dispatched unit's fix came within 50 m); both are kept.
CREATE TABLE incident_step (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('dispatch', 'arrive', 'close', 'divert', 'accept',
                                              'callback', 'cancel', 'note')),
    at          timestamptz NOT NULL,
    actor       text NOT NULL,            -- a user name, 'auto' or 'sample'
    source      text NOT NULL DEFAULT 'reported' CHECK (source IN ('reported', 'automatic')),
    call_sign   text,                      -- dispatch, arrive
    result      text,                      -- close: the result; callback: the answer
    note        text CHECK (length(note) <= 4000),
    geom        geometry(Point, 4326),     -- arrive: where the unit was
    recorded_at timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'callback'
           OR result IN ('satisfied', 'basically_satisfied', 'unsatisfied')),
    CHECK (kind NOT IN ('dispatch') OR call_sign IS NOT NULL),
    CHECK (source = 'reported' OR kind = 'arrive')
);
CREATE INDEX incident_step_incident_idx ON incident_step (incident_id, at);
CREATE INDEX incident_step_kind_at_idx ON incident_step (kind, at);

-- The command room's event log: what changed, in order. The live stream sends its rows (id as
-- the SSE id, so a page that reconnects with Last-Event-ID gets what it missed), and replay
-- rebuilds the board at a moment from it. grid_id is what scope filters on.
CREATE TABLE command_event (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind        text NOT NULL CHECK (kind ~ '^[a-z_]{1,40}$'),  -- incident, step, unit, …
    incident_id bigint,
    call_sign   text,
    grid_id     int,
    payload     jsonb NOT NULL
);
CREATE INDEX command_event_at_idx ON command_event (at);
CREATE INDEX command_event_incident_idx ON command_event (incident_id) WHERE incident_id IS NOT NULL;
