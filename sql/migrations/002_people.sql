-- People and their assignments to areas, with validity periods. History is kept: an assignment
-- ends by setting valid_to, never by being overwritten.

CREATE TABLE person (
    id      serial PRIMARY KEY,
    code    text NOT NULL UNIQUE,
    name    text NOT NULL,
    role    text NOT NULL CHECK (role IN ('community_officer', 'auxiliary_officer',
                                          'police_assistant', 'grid_worker',
                                          'village_cadre', 'volunteer')),
    phone   text CHECK (phone ~ '^[0-9+\-]{5,20}$')
);

-- One assignment names exactly one area: a station, village, grid or beat (of one plan).
CREATE TABLE assignment (
    id          serial PRIMARY KEY,
    person_id   int NOT NULL REFERENCES person (id),
    role        text NOT NULL CHECK (role IN ('community_officer', 'auxiliary_officer',
                                              'police_assistant', 'grid_worker',
                                              'village_cadre', 'volunteer')),
    area_kind   text NOT NULL CHECK (area_kind IN ('station', 'village', 'grid', 'beat')),
    station_id  int REFERENCES station (id),
    village_id  int REFERENCES village (id),
    grid_id     int REFERENCES grid (id),
    beat_id     int REFERENCES beat (id) ON DELETE CASCADE,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    validity    tstzrange GENERATED ALWAYS AS (tstzrange(valid_from, valid_to, '[)')) STORED,
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    CHECK (num_nonnulls(station_id, village_id, grid_id, beat_id) = 1),
    CHECK ((area_kind = 'station') = (station_id IS NOT NULL)
       AND (area_kind = 'village') = (village_id IS NOT NULL)
       AND (area_kind = 'grid') = (grid_id IS NOT NULL)
       AND (area_kind = 'beat') = (beat_id IS NOT NULL)),
    -- the same person cannot hold the same role in the same area twice at once
    EXCLUDE USING gist (
        person_id WITH =, role WITH =, area_kind WITH =,
        (coalesce(station_id, village_id, grid_id, beat_id)) WITH =,
        validity WITH &&
    )
);
-- An area has a handful of assignments over its history: find them by area, then filter by time.
CREATE INDEX assignment_village_idx ON assignment (village_id) WHERE village_id IS NOT NULL;
CREATE INDEX assignment_grid_idx ON assignment (grid_id) WHERE grid_id IS NOT NULL;
CREATE INDEX assignment_beat_idx ON assignment (beat_id) WHERE beat_id IS NOT NULL;
CREATE INDEX assignment_person_idx ON assignment (person_id, valid_from);
CREATE INDEX assignment_area_idx
    ON assignment (area_kind, (coalesce(station_id, village_id, grid_id, beat_id)));
