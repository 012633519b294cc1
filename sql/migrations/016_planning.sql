-- Beat planning (issue 13): drafts made from a plan and edited by planners with a version that
-- every change raises (a change based on an older version is refused with what changed since),
-- locks on grids and beats, a beat's community officer for the plan, and the plan's history of
-- changes. Published plans never change (the planning functions refuse it).

ALTER TABLE beat_plan
    ADD COLUMN version int NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN based_on int REFERENCES beat_plan (id) ON DELETE SET NULL,
    ADD COLUMN created_by text,
    ADD COLUMN published_by text,
    ADD COLUMN published_at timestamptz;

ALTER TABLE beat
    ADD COLUMN officer_id int REFERENCES person (id),
    ADD COLUMN locked boolean NOT NULL DEFAULT false;

ALTER TABLE beat_grid
    ADD COLUMN locked boolean NOT NULL DEFAULT false;

-- Every change to a draft, with the version it made: what a stale editor is shown.
CREATE TABLE plan_change (
    id          bigserial PRIMARY KEY,
    plan_id     int NOT NULL REFERENCES beat_plan (id) ON DELETE CASCADE,
    version     int NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    kind        text NOT NULL CHECK (kind ~ '^[a-z_]{1,40}$'),  -- move, add_beat, lock, …
    detail      jsonb NOT NULL,
    UNIQUE (plan_id, version)
);
