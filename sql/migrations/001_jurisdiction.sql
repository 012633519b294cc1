-- The station's jurisdiction: station, villages, grids, beat plans, beats and their grids.
-- Geometry is stored in EPSG:4326; metric work goes through geography or EPSG:4549.

CREATE TABLE station (
    id          serial PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    geom        geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX station_geom_gix ON station USING gist (geom);

CREATE TABLE village (
    id          serial PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[0-9]{12}$'),
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('village', 'community')),
    station_id  int NOT NULL REFERENCES station (id),
    geom        geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX village_geom_gix ON village USING gist (geom);

CREATE TABLE grid (
    id          serial PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    village_id  int NOT NULL REFERENCES village (id),
    geom        geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX grid_geom_gix ON grid USING gist (geom);
CREATE INDEX grid_village_idx ON grid (village_id);

-- A beat plan is a draft, or published with the moment it takes effect. The plan in force at a
-- moment is the published plan with the latest effective_from at or before it.
CREATE TABLE beat_plan (
    id              serial PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    name            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('draft', 'published')),
    effective_from  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (status = 'draft' OR effective_from IS NOT NULL)
);
CREATE UNIQUE INDEX beat_plan_published_effective_uix
    ON beat_plan (effective_from) WHERE status = 'published';

CREATE TABLE beat (
    id          serial PRIMARY KEY,
    plan_id     int NOT NULL REFERENCES beat_plan (id) ON DELETE CASCADE,
    code        text NOT NULL,
    name        text NOT NULL,
    UNIQUE (plan_id, code),
    UNIQUE (plan_id, id)
);

-- A beat is a set of whole grids: within a plan each grid belongs to one beat at most. Beat
-- outlines are never stored; they are the union of their grids (view beat_outline).
CREATE TABLE beat_grid (
    plan_id     int NOT NULL,
    grid_id     int NOT NULL REFERENCES grid (id),
    beat_id     int NOT NULL,
    PRIMARY KEY (plan_id, grid_id),
    FOREIGN KEY (plan_id, beat_id) REFERENCES beat (plan_id, id) ON DELETE CASCADE
);
CREATE INDEX beat_grid_beat_idx ON beat_grid (beat_id);

CREATE VIEW beat_outline AS
SELECT b.id AS beat_id, b.plan_id, b.code, b.name,
       ST_Multi(ST_Union(g.geom))::geometry(MultiPolygon, 4326) AS geom
FROM beat b
JOIN beat_grid bg ON bg.beat_id = b.id
JOIN grid g ON g.id = bg.grid_id
GROUP BY b.id;
