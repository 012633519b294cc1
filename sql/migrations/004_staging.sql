-- Staging tables that writers COPY raw events into before store_staged_*() stamps and moves
-- them. Unlogged: their rows live only for the length of one load.

CREATE UNLOGGED TABLE incident_staging (
    call_no     text NOT NULL,
    received_at timestamptz NOT NULL,
    category    text NOT NULL,
    status      text NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    h3          bigint NOT NULL
);

CREATE UNLOGGED TABLE position_fix_staging (
    ord         bigint NOT NULL,
    person_id   int NOT NULL,
    recorded_at timestamptz NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    h3          bigint NOT NULL
);
