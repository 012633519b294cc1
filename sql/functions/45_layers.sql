-- Layers as they leave the service (export, OGC API - Features, vector tiles): one view per
-- layer with exactly the columns of the sample GeoPackage's layer contract (the columns the
-- loader reads), geometry in `geom`, moments as ISO 8601 text in station time. Columns whose
-- names start with '_' are helpers for filtering (never published): `_id` (feature id when the
-- layer has no code), `_time` (event time), `_plan_id` (beat plan), `_validity` (assignments).
-- Without `_id`, a feature's id is its first column (its code).

-- Views are dropped and made again on every migrate, so their columns can change.
DROP VIEW IF EXISTS layer_station, layer_village, layer_grid, layer_beat, layer_beat_plan,
    layer_beat_grid, layer_person, layer_assignment, layer_water_body, layer_water_marker,
    layer_rental_house, layer_camera, layer_place, layer_road, layer_incident,
    layer_position_fix;

-- A moment as the sample writes it: 2026-07-01T00:00:00+08:00 (station time, UTC+8).
CREATE OR REPLACE FUNCTION station_iso(t timestamptz)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS"+08:00"')
$$;
COMMENT ON FUNCTION station_iso(timestamptz)
    IS 'A moment as ISO 8601 text in station time (UTC+8), the way the sample GeoPackage writes it.';

CREATE OR REPLACE VIEW layer_station AS
SELECT s.code, s.name, s.geom FROM station s;

CREATE OR REPLACE VIEW layer_village AS
SELECT v.code, v.name, v.kind, v.geom FROM village v;

CREATE OR REPLACE VIEW layer_grid AS
SELECT g.code, g.name, v.code AS village_code, g.geom
FROM grid g JOIN village v ON v.id = g.village_id;

-- Beat outlines are the union of their grids (never stored); every plan's beats.
CREATE OR REPLACE VIEW layer_beat AS
SELECT p.code AS plan_code, b.code, b.name,
       ST_Multi(ST_Union(g.geom))::geometry(MultiPolygon, 4326) AS geom,
       b.code AS _id, b.plan_id AS _plan_id
FROM beat b
JOIN beat_plan p ON p.id = b.plan_id
JOIN beat_grid bg ON bg.beat_id = b.id
JOIN grid g ON g.id = bg.grid_id
GROUP BY b.plan_id, p.code, b.code, b.name, b.id;

CREATE OR REPLACE VIEW layer_beat_plan AS
SELECT p.code, p.name, p.status, station_iso(p.effective_from) AS effective_from
FROM beat_plan p;

CREATE OR REPLACE VIEW layer_beat_grid AS
SELECT p.code AS plan_code, b.code AS beat_code, g.code AS grid_code,
       g.code AS _id, bg.plan_id AS _plan_id
FROM beat_grid bg
JOIN beat_plan p ON p.id = bg.plan_id
JOIN beat b ON b.id = bg.beat_id
JOIN grid g ON g.id = bg.grid_id;

CREATE OR REPLACE VIEW layer_person AS
SELECT pe.code, pe.name, pe.role, app_phone(pe.id, pe.phone) AS phone FROM person pe;

CREATE OR REPLACE VIEW layer_assignment AS
SELECT pe.code AS person_code, a.role, a.area_kind, a.area_code, a.plan_code,
       station_iso(a.valid_from) AS valid_from, station_iso(a.valid_to) AS valid_to,
       a.validity AS _validity
FROM assignment_area a
JOIN person pe ON pe.id = a.person_id;

CREATE OR REPLACE VIEW layer_water_body AS
SELECT w.code, w.name, w.kind, w.geom FROM water_body w;

CREATE OR REPLACE VIEW layer_water_marker AS
SELECT m.code, w.code AS water_body_code, m.kind, m.status,
       station_iso(m.installed_at) AS installed_at,
       station_iso(m.last_inspected_at) AS last_inspected_at, m.geom
FROM water_marker m
LEFT JOIN water_body w ON w.id = m.water_body_id;

CREATE OR REPLACE VIEW layer_rental_house AS
SELECT r.code, r.address, r.landlord, app_landlord_phone(r.geom, r.phone) AS phone,
       r.rooms, r.tenants,
       station_iso(r.last_fire_check_at) AS last_fire_check_at, r.geom
FROM rental_house r;

CREATE OR REPLACE VIEW layer_camera AS
SELECT c.code, c.name, c.kind, c.status, c.heading, c.fov_deg, c.range_m, c.geom FROM camera c;

CREATE OR REPLACE VIEW layer_place AS
SELECT p.code, p.name, p.kind, p.geom FROM place p;

CREATE OR REPLACE VIEW layer_road AS
SELECT r.code, r.name, r.kind, r.geom FROM road r;

-- The caller's details by the one rule (17_access_rules.sql): the phone in full for the command
-- room and leaders, masked for the other police roles; nothing of them for a grid worker.
CREATE OR REPLACE VIEW layer_incident AS
SELECT i.call_no, station_iso(i.received_at) AS received_at, i.category, i.status,
       app_caller_phone(i.caller_phone) AS caller_phone,
       app_caller_detail(i.address) AS address, app_caller_detail(i.description) AS description,
       i.geom, i.received_at AS _time
FROM incident i;

-- A fix is the reader's when its grid is (row-level security on position_fix); who made it only
-- when the person is theirs too (on person): a unit from another beat crossing a grid worker's
-- grid on its way to a call is a fix there without a name.
CREATE OR REPLACE VIEW layer_position_fix AS
SELECT pe.code AS person_code, station_iso(f.recorded_at) AS recorded_at, f.geom,
       f.id AS _id, f.recorded_at AS _time
FROM position_fix f
LEFT JOIN person pe ON pe.id = f.person_id;

-- The columns of a layer's view in order (NULL for an unknown layer).
CREATE OR REPLACE FUNCTION layer_columns(layer text)
RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT array_agg(a.attname::text ORDER BY a.attnum)
    FROM pg_attribute a
    WHERE a.attrelid = to_regclass(quote_ident('layer_' || layer))
      AND a.attnum > 0 AND NOT a.attisdropped
$$;
COMMENT ON FUNCTION layer_columns(text)
    IS 'Columns of the view layer_<layer> in order, helpers (_id, _time, ...) included; NULL if there is no such layer.';

-- The WHERE clause shared by items and tiles; parameters $1 bbox, $2 time_from, $3 time_to,
-- $4 plan id, $5 category list, $6 feature id (each ignored when NULL).
CREATE OR REPLACE FUNCTION layer_filter(cols text[], id_column text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT concat_ws(' AND ', 'true',
        CASE WHEN 'geom' = ANY (cols) THEN '($1 IS NULL OR ST_Intersects(v.geom, $1))' END,
        CASE WHEN '_time' = ANY (cols) THEN '($2 IS NULL OR v._time >= $2)' END,
        CASE WHEN '_time' = ANY (cols) THEN '($3 IS NULL OR v._time <= $3)' END,
        CASE WHEN '_plan_id' = ANY (cols) THEN '($4 IS NULL OR v._plan_id = $4)' END,
        CASE WHEN 'category' = ANY (cols) THEN '($5 IS NULL OR v.category = ANY ($5))' END,
        format('($6 IS NULL OR v.%I::text = $6)', id_column))
$$;
COMMENT ON FUNCTION layer_filter(text[], text)
    IS 'WHERE clause over layer view v for bbox ($1), time_from/time_to ($2/$3, inclusive), plan id ($4), categories ($5) and feature id ($6).';

-- A page of a layer as a GeoJSON FeatureCollection with numberMatched and numberReturned.
-- Pages go by key: `after` is the id of the last feature of the page before (the next page
-- starts after it, whatever its depth, by the index on the id); `off` skips features (kept for
-- clients that page by offset; it reads every feature it skips). Polygon outer rings are
-- counter-clockwise, holes clockwise (RFC 7946).
DROP FUNCTION IF EXISTS layer_features(text, geometry, timestamptz, timestamptz, int, int, int, text);
CREATE OR REPLACE FUNCTION layer_features(
    layer text,
    bbox geometry DEFAULT NULL,
    time_from timestamptz DEFAULT NULL,
    time_to timestamptz DEFAULT NULL,
    plan int DEFAULT NULL,
    lim int DEFAULT 10,
    off int DEFAULT 0,
    fid text DEFAULT NULL,
    after text DEFAULT NULL
)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    cols text[] := layer_columns(layer);
    id_column text;
    id_type text;
    props text;
    geometry_json text;
    result json;
BEGIN
    IF cols IS NULL THEN
        RETURN NULL;
    END IF;
    id_column := CASE WHEN '_id' = ANY (cols) THEN '_id' ELSE cols[1] END;
    SELECT format_type(a.atttypid, a.atttypmod) INTO id_type
    FROM pg_attribute a
    WHERE a.attrelid = to_regclass(quote_ident('layer_' || layer)) AND a.attname = id_column;
    IF after IS NOT NULL AND id_type IN ('bigint', 'integer')
       AND after !~ '^-?[0-9]{1,18}$' THEN
        RAISE EXCEPTION 'cursor does not come from a page of layer %', layer
            USING ERRCODE = 'invalid_parameter_value', HINT = 'cursor';
    END IF;
    SELECT string_agg(format('%L, v.%I', c, c), ', ' ORDER BY o) INTO props
    FROM unnest(cols) WITH ORDINALITY AS u(c, o)
    WHERE c <> 'geom' AND left(c, 1) <> '_';
    geometry_json := CASE WHEN 'geom' = ANY (cols)
                          THEN 'ST_AsGeoJSON(ST_ForcePolygonCCW(v.geom), 7)::json'
                          ELSE 'NULL::json' END;
    EXECUTE format(
        $q$
        SELECT json_build_object(
            'type', 'FeatureCollection',
            'numberMatched', (SELECT count(*) FROM %1$I v WHERE %2$s),
            'numberReturned', count(*) FILTER (WHERE p.n <= $7 + $8),
            'more', count(*) > $7,
            'features', coalesce(json_agg(json_build_object(
                'type', 'Feature', 'id', p.id, 'geometry', p.geometry, 'properties', p.properties)
                ORDER BY p.id) FILTER (WHERE p.n <= $7 + $8), '[]'))
        FROM (
            -- one feature more than the page: whether there is a next page (n counts skipped ones)
            SELECT row_number() OVER (ORDER BY v.%3$I) AS n, v.%3$I AS id,
                   %4$s AS geometry, json_build_object(%5$s) AS properties
            FROM %1$I v WHERE %2$s AND ($9 IS NULL OR v.%3$I > $9::%6$s)
            ORDER BY v.%3$I
            LIMIT $7 + 1 OFFSET $8
        ) p
        $q$,
        'layer_' || layer, layer_filter(cols, id_column), id_column, geometry_json, props,
        id_type)
    INTO result
    USING bbox, time_from, time_to, plan, NULL::text[], fid, lim, off, after;
    RETURN result;
END;
$$;
COMMENT ON FUNCTION layer_features(text, geometry, timestamptz, timestamptz, int, int, int, text, text)
    IS 'A page of layer_<layer> as a GeoJSON FeatureCollection with numberMatched/numberReturned (and `more`: whether features follow the page), ordered by feature id: lim features after the id `after` (key paging), skipping off; filtered by bbox (intersects), inclusive time interval, plan id and feature id; outer rings counter-clockwise (RFC 7946); NULL if there is no such layer. A cursor that is no id of the layer raises invalid_parameter_value with HINT cursor.';

-- Extents of layers (bbox, and time interval of event layers) and the published beat plans:
-- what the OGC collections list.
CREATE OR REPLACE FUNCTION layer_catalog(layers text[])
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    extents jsonb := '{}';
    name text;
    cols text[];
    box box2d;
    t0 timestamptz;
    t1 timestamptz;
BEGIN
    FOREACH name IN ARRAY layers LOOP
        cols := layer_columns(name);
        CONTINUE WHEN cols IS NULL OR NOT 'geom' = ANY (cols);
        t0 := NULL;
        t1 := NULL;
        IF '_time' = ANY (cols) THEN
            EXECUTE format('SELECT ST_Extent(geom), min(_time), max(_time) FROM %I',
                           'layer_' || name)
                INTO box, t0, t1;
        ELSE
            EXECUTE format('SELECT ST_Extent(geom) FROM %I', 'layer_' || name) INTO box;
        END IF;
        extents := extents || jsonb_build_object(name, jsonb_build_object(
            'bbox', CASE WHEN box IS NULL THEN NULL ELSE
                    jsonb_build_array(ST_XMin(box), ST_YMin(box), ST_XMax(box), ST_YMax(box)) END,
            'interval', CASE WHEN t0 IS NULL THEN NULL ELSE jsonb_build_array(t0, t1) END));
    END LOOP;
    RETURN json_build_object(
        'extents', extents,
        'plans', (SELECT coalesce(json_agg(json_build_object(
                      'id', p.id, 'code', p.code, 'name', p.name,
                      'effective_from', p.effective_from,
                      'in_force', p.id IS NOT DISTINCT FROM plan_in_force(now()))
                      ORDER BY p.effective_from), '[]')
                  FROM beat_plan p WHERE p.status = 'published'));
END;
$$;
COMMENT ON FUNCTION layer_catalog(text[])
    IS 'Bounding box (and time interval for event layers) of each named layer, and the published beat plans with the one in force now.';

-- Columns a layer's tiles never carry: a caller's details. Tiles are for drawing, kept in
-- caches for a minute; who may read the details reads them in the items and exports.
CREATE OR REPLACE FUNCTION layer_untiled() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['caller_phone', 'address', 'description']
$$;
COMMENT ON FUNCTION layer_untiled()
    IS 'Published columns that vector tiles leave out: the caller''s phone, address and description (incidents).';

-- A Mapbox vector tile of a layer: one MVT layer named after it, geometry clipped to the tile
-- (4096 units, 64 units buffer), attributes the layer's published columns but layer_untiled().
CREATE OR REPLACE FUNCTION layer_tile(
    layer text, z int, x int, y int,
    time_from timestamptz DEFAULT NULL,
    time_to timestamptz DEFAULT NULL,
    categories text[] DEFAULT NULL,
    plan int DEFAULT NULL
)
RETURNS bytea
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    cols text[] := layer_columns(layer);
    props text;
    tile bytea;
BEGIN
    IF cols IS NULL OR NOT 'geom' = ANY (cols) THEN
        RETURN NULL;
    END IF;
    SELECT string_agg(format('v.%I', c), ', ' ORDER BY o) INTO props
    FROM unnest(cols) WITH ORDINALITY AS u(c, o)
    WHERE c <> 'geom' AND left(c, 1) <> '_' AND c <> ALL (layer_untiled());
    EXECUTE format(
        $q$
        WITH t AS (
            SELECT ST_TileEnvelope($9, $10, $11) AS env,
                   -- the tile and its buffer, kept inside the world for the transform
                   ST_Transform(ST_Intersection(
                       ST_TileEnvelope($9, $10, $11, margin => 64.0 / 4096),
                       ST_TileEnvelope(0, 0, 0)), 4326) AS search
        )
        SELECT ST_AsMVT(m, %1$L, 4096, 'geom')
        FROM (
            SELECT %2$s, ST_AsMVTGeom(ST_Transform(v.geom, 3857), t.env, 4096, 64, true) AS geom
            FROM %3$I v, t
            WHERE v.geom && t.search AND %4$s
        ) m
        WHERE m.geom IS NOT NULL
        $q$,
        layer, props, 'layer_' || layer, layer_filter(cols, cols[1]))
    INTO tile
    USING NULL::geometry, time_from, time_to, plan, categories, NULL::text, NULL::int, NULL::int,
          z, x, y;
    RETURN tile;
END;
$$;
COMMENT ON FUNCTION layer_tile(text, int, int, int, timestamptz, timestamptz, text[], int)
    IS 'Mapbox vector tile z/x/y (Web Mercator) of layer_<layer> from ST_AsMVT (no column of layer_untiled()), optionally filtered by inclusive time interval, categories and plan id; empty when nothing is in the tile, NULL if no such spatial layer.';
