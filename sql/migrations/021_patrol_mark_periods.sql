-- Marks for dusk shore patrol (傍晚巡河) kept as periods (issue 14): a water is marked from
-- marked_at until unmarked_at (NULL: still marked). Unmarking ends the mark instead of deleting
-- it, marking again opens a new period, and the per-day patrol table counts a water on the days
-- it was marked, so taking a water off the list no longer rewrites the table's past. Existing
-- marks are periods from their marked_at, still in force. A water's periods never overlap (so
-- at most one is open).

ALTER TABLE patrol_water DROP CONSTRAINT patrol_water_pkey;
ALTER TABLE patrol_water
    ADD COLUMN unmarked_at timestamptz,
    ADD CONSTRAINT patrol_water_pkey PRIMARY KEY (water_body_id, marked_at),
    ADD CONSTRAINT patrol_water_period CHECK (unmarked_at > marked_at),
    ADD CONSTRAINT patrol_water_no_overlap EXCLUDE USING gist (
        int4range(water_body_id, water_body_id, '[]') WITH =,
        tstzrange(marked_at, unmarked_at) WITH &&
    );
COMMENT ON COLUMN patrol_water.unmarked_at
    IS 'When the water was taken off the dusk patrol list (NULL: marked now).';
