-- What people on the ground care for (water, rentals, cameras, places, roads) and what happens
-- (incidents, patrol position fixes). Events are stamped with their area and H3 cell on storage.

CREATE TABLE water_body (
    id      serial PRIMARY KEY,
    code    text NOT NULL UNIQUE,
    name    text NOT NULL,
    kind    text NOT NULL CHECK (kind IN ('river', 'canal', 'pond', 'reservoir', 'lake')),
    geom    geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    -- the same outline in EPSG:4549 (CGCS2000 / 3-degree GK, CM 120°E), for distances in metres
    geom_metric geometry(MultiPolygon, 4549) GENERATED ALWAYS AS (ST_Transform(geom, 4549)) STORED
);
CREATE INDEX water_body_geom_gix ON water_body USING gist (geom);
CREATE INDEX water_body_metric_gix ON water_body USING gist (geom_metric);

CREATE TABLE water_marker (
    id                  serial PRIMARY KEY,
    code                text NOT NULL UNIQUE,
    water_body_id       int REFERENCES water_body (id),
    kind                text NOT NULL CHECK (kind IN ('rescue_pole', 'lifebuoy',
                                                      'warning_sign', 'danger_spot')),
    status              text NOT NULL CHECK (status IN ('ok', 'damaged', 'missing')),
    installed_at        timestamptz,
    last_inspected_at   timestamptz,
    geom                geometry(Point, 4326) NOT NULL,
    geom_metric         geometry(Point, 4549)
        GENERATED ALWAYS AS (ST_Transform(geom, 4549)) STORED
);
CREATE INDEX water_marker_geom_gix ON water_marker USING gist (geom);
CREATE INDEX water_marker_metric_gix ON water_marker USING gist (geom_metric);

CREATE TABLE rental_house (
    id                  serial PRIMARY KEY,
    code                text NOT NULL UNIQUE,
    address             text NOT NULL,
    landlord            text,
    phone               text,
    rooms               int CHECK (rooms >= 0),
    tenants             int CHECK (tenants >= 0),
    last_fire_check_at  timestamptz,
    geom                geometry(Point, 4326) NOT NULL
);
CREATE INDEX rental_house_geom_gix ON rental_house USING gist (geom);

-- The polygon a camera sees: a sector of radius range_m around the heading (degrees clockwise
-- from north), fov_deg wide; a full circle when fov_deg is 360.
CREATE FUNCTION camera_view_sector(
    camera_point geometry, heading double precision, fov_deg double precision,
    range_m double precision
) RETURNS geometry
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    steps int;
    ring geometry[];
    az double precision;
BEGIN
    IF fov_deg >= 360 THEN
        RETURN ST_SetSRID(ST_Buffer(camera_point::geography, range_m, 24)::geometry, 4326);
    END IF;
    steps := greatest(2, ceil(fov_deg / 5.0)::int);
    ring := ARRAY[camera_point];
    FOR i IN 0..steps LOOP
        az := radians(heading - fov_deg / 2 + fov_deg * i / steps);
        ring := ring || ST_Project(camera_point::geography, range_m, az)::geometry;
    END LOOP;
    ring := ring || camera_point;
    RETURN ST_SetSRID(ST_MakePolygon(ST_MakeLine(ring)), 4326);
END;
$$;
COMMENT ON FUNCTION camera_view_sector(geometry, double precision, double precision, double precision)
    IS 'View sector polygon (EPSG:4326) of a camera from its position, heading, field of view and range in metres.';

CREATE TABLE camera (
    id          serial PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('skynet', 'xueliang', 'other')),
    status      text NOT NULL CHECK (status IN ('working', 'faulty', 'offline')),
    heading     double precision NOT NULL CHECK (heading >= 0 AND heading < 360),
    fov_deg     double precision NOT NULL CHECK (fov_deg > 0 AND fov_deg <= 360),
    range_m     double precision NOT NULL CHECK (range_m > 0 AND range_m <= 1000),
    geom        geometry(Point, 4326) NOT NULL,
    view_sector geometry(Polygon, 4326)
        GENERATED ALWAYS AS (camera_view_sector(geom, heading, fov_deg, range_m)) STORED
);
CREATE INDEX camera_geom_gix ON camera USING gist (geom);
CREATE INDEX camera_view_sector_gix ON camera USING gist (view_sector);

CREATE TABLE place (
    id      serial PRIMARY KEY,
    code    text NOT NULL UNIQUE,
    name    text NOT NULL,
    kind    text NOT NULL CHECK (kind IN ('police_work_point', 'governance_station', 'school',
                                          'hospital', 'market', 'village_committee', 'other')),
    geom    geometry(Point, 4326) NOT NULL
);
CREATE INDEX place_geom_gix ON place USING gist (geom);

CREATE TABLE road (
    id      serial PRIMARY KEY,
    code    text NOT NULL UNIQUE,
    name    text NOT NULL,
    kind    text NOT NULL CHECK (kind IN ('highway', 'main', 'village', 'track')),
    geom    geometry(LineString, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX road_geom_gix ON road USING gist (geom);

-- Incidents (警情) as received by 110 call intake. village/grid/beat and the H3 cell (resolution
-- 10; coarser cells come from h3_parent) are filled in once, when the incident is stored.
CREATE TABLE incident (
    id          bigserial PRIMARY KEY,
    call_no     text NOT NULL UNIQUE,
    received_at timestamptz NOT NULL,
    category    text NOT NULL CHECK (category IN ('theft', 'fraud', 'dispute', 'traffic',
                                                  'public_order', 'assistance', 'drowning',
                                                  'non_police')),
    status      text NOT NULL CHECK (status IN ('received', 'dispatched', 'arrived', 'closed',
                                                'diverted')),
    geom        geometry(Point, 4326) NOT NULL,
    village_id  int REFERENCES village (id),
    grid_id     int REFERENCES grid (id),
    beat_id     int REFERENCES beat (id) ON DELETE SET NULL,
    h3          bigint NOT NULL
);
CREATE INDEX incident_geom_gix ON incident USING gist (geom);
CREATE INDEX incident_received_idx ON incident (received_at);
CREATE INDEX incident_grid_received_idx ON incident (grid_id, received_at);
CREATE INDEX incident_beat_received_idx ON incident (beat_id, received_at);

-- Patrol position fixes (定位点) of officers, stamped like incidents.
CREATE TABLE position_fix (
    id          bigserial PRIMARY KEY,
    person_id   int NOT NULL REFERENCES person (id),
    recorded_at timestamptz NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    village_id  int REFERENCES village (id),
    grid_id     int REFERENCES grid (id),
    beat_id     int REFERENCES beat (id) ON DELETE SET NULL,
    h3          bigint NOT NULL
);
CREATE INDEX position_fix_person_time_idx ON position_fix (person_id, recorded_at);
CREATE INDEX position_fix_time_brin ON position_fix USING brin (recorded_at);
CREATE INDEX position_fix_beat_time_idx ON position_fix (beat_id, recorded_at);
