-- Map layers. The neutral basemap of every map page: the jurisdiction's own town, villages, roads and water,
-- simplified in metres (EPSG:4549) so a page stays small and readable with no tiles at all.

DROP FUNCTION IF EXISTS basemap_layers(double precision);
-- tolerance_m NULL: a 1500th of the station's width (2 m at least): invisible at the zoom that
-- shows the whole jurisdiction. Water smaller than (4 tolerance)² and, on wide areas, tracks
-- (tolerance over 10 m) and village roads (over 40 m) are left out; coordinates are rounded to
-- 5 decimals (about 1 m), 4 when the tolerance is 20 m or more.
CREATE OR REPLACE FUNCTION basemap_layers(tolerance_m double precision DEFAULT NULL)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH ext AS (
        SELECT ST_Extent(geom) AS e, ST_Extent(ST_Transform(geom, 4549)) AS m FROM station
    ),
    p AS (
        SELECT coalesce(tolerance_m, greatest(2, (ST_XMax(m) - ST_XMin(m)) / 1500)) AS tol
        FROM ext
    ),
    layer_rows AS (
        SELECT 'town' AS layer, s.code, s.name, NULL::text AS kind, s.geom FROM station s
        UNION ALL SELECT 'villages', v.code, v.name, v.kind, v.geom FROM village v
        UNION ALL SELECT 'roads', r.code, r.name, r.kind, r.geom FROM road r, p
                  WHERE NOT (r.kind = 'track' AND p.tol > 10)
                    AND NOT (r.kind = 'village' AND p.tol > 40)
        UNION ALL SELECT 'water', w.code, w.name, w.kind, w.geom FROM water_body w, p
                  WHERE ST_Area(w.geom_metric) >= (4 * p.tol) ^ 2
    )
    SELECT json_build_object(
        'bbox', (SELECT json_build_array(ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)) FROM ext),
        'tolerance_m', (SELECT tol FROM p),
        'layers', (
            SELECT json_object_agg(layer, fc)
            FROM (
                SELECT layer, json_build_object(
                    'type', 'FeatureCollection',
                    'features', coalesce(json_agg(json_build_object(
                        'type', 'Feature',
                        'geometry', ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(
                            ST_Transform(geom, 4549), p.tol), 4326),
                            CASE WHEN p.tol >= 20 THEN 4 ELSE 5 END)::json,
                        'properties', json_build_object('name', name)
                    ) ORDER BY code), '[]')) AS fc
                FROM layer_rows, p
                GROUP BY layer
            ) l
        )
    )
$$;
COMMENT ON FUNCTION basemap_layers(double precision)
    IS 'The neutral basemap: town outline, villages, roads and water bodies as GeoJSON FeatureCollections (simplified in EPSG:4549 by tolerance_m metres, by default a 1500th of the station''s width; small water and minor roads left out on wide areas) with the station''s bbox.';

DROP FUNCTION IF EXISTS basemap_version();
CREATE OR REPLACE FUNCTION basemap_version()
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT version FROM basemap_version WHERE id = 1
$$;
COMMENT ON FUNCTION basemap_version()
    IS 'Version of the basemap layers, bumped by any change to station, village, road or water_body.';

-- The overview map's layers at a moment: villages, grids and beats (plan in force) with the
-- people responsible, water markers, rental houses, cameras, police work points and
-- governance stations. Optionally only some layers, only features meeting a bbox, and at most
-- max_features per layer (first by code; the collection then says "truncated": true and gives
-- the "total"). Areas are simplified like the basemap (a 1500th of the station's width by
-- default); points have 6 decimals (about 0.1 m).
DROP FUNCTION IF EXISTS overview_layers(timestamptz, double precision);
DROP FUNCTION IF EXISTS overview_layers(timestamptz, text[], geometry, int, double precision);
CREATE OR REPLACE FUNCTION overview_layers(
    at timestamptz, layer_names text[] DEFAULT NULL, bbox geometry DEFAULT NULL,
    max_features int DEFAULT NULL, tolerance_m double precision DEFAULT NULL
)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH p AS (
        SELECT coalesce(tolerance_m, greatest(1, (ST_XMax(m) - ST_XMin(m)) / 1500)) AS tol,
               coalesce(layer_names, ARRAY['villages', 'grids', 'beats', 'water_markers',
                                           'rental_houses', 'cameras', 'work_points']) AS want
        FROM (SELECT ST_Extent(ST_Transform(geom, 4549)) AS m FROM station) e
    ),
    features AS (
        SELECT 'villages' AS layer, 'village' AS kind, v.id, v.code, v.name,
               json_build_object('kind', v.kind) AS extra, v.geom
        FROM village v, p WHERE 'villages' = ANY (p.want) AND (bbox IS NULL OR v.geom && bbox)
        UNION ALL
        SELECT 'grids', 'grid', g.id, g.code, g.name, json_build_object('village', v.name), g.geom
        FROM grid g JOIN village v ON v.id = g.village_id, p
        WHERE 'grids' = ANY (p.want) AND (bbox IS NULL OR g.geom && bbox)
        UNION ALL
        SELECT 'beats', 'beat', o.beat_id, o.code, o.name, json_build_object('plan', bp.code),
               o.geom
        FROM beat_outline o JOIN beat_plan bp ON bp.id = o.plan_id, p
        WHERE 'beats' = ANY (p.want) AND o.plan_id = plan_in_force(at)
          AND (bbox IS NULL OR o.geom && bbox)
        UNION ALL
        SELECT 'water_markers', NULL, m.id, m.code, m.kind,
               json_build_object('kind', m.kind, 'status', m.status, 'water_body', w.name,
                                 'last_inspected_at', m.last_inspected_at::date), m.geom
        FROM water_marker m LEFT JOIN water_body w ON w.id = m.water_body_id, p
        WHERE 'water_markers' = ANY (p.want) AND (bbox IS NULL OR m.geom && bbox)
        UNION ALL
        SELECT 'rental_houses', NULL, r.id, r.code, r.address,
               json_build_object('landlord', r.landlord,
                                 'phone', app_landlord_phone(r.geom, r.phone),
                                 'tenants', r.tenants), r.geom
        FROM rental_house r, p
        WHERE 'rental_houses' = ANY (p.want) AND (bbox IS NULL OR r.geom && bbox)
        UNION ALL
        SELECT 'cameras', NULL, c.id, c.code, c.name,
               json_build_object('kind', c.kind, 'status', c.status), c.geom
        FROM camera c, p WHERE 'cameras' = ANY (p.want) AND (bbox IS NULL OR c.geom && bbox)
        UNION ALL
        SELECT 'work_points', NULL, pl.id, pl.code, pl.name, json_build_object('kind', pl.kind),
               pl.geom
        FROM place pl, p
        WHERE 'work_points' = ANY (p.want)
          AND pl.kind IN ('police_work_point', 'governance_station')
          AND (bbox IS NULL OR pl.geom && bbox)
    ),
    ranked AS (
        SELECT f.*, row_number() OVER (PARTITION BY f.layer ORDER BY f.code) AS rn,
               count(*) OVER (PARTITION BY f.layer) AS total
        FROM features f
    )
    SELECT coalesce(json_object_agg(layer, fc), '{}')
    FROM (
        SELECT r.layer, json_build_object(
            'type', 'FeatureCollection',
            'total', max(r.total),
            'truncated', max(r.total) > count(*),
            'features', json_agg(json_build_object(
                'type', 'Feature',
                'geometry', CASE WHEN r.kind IS NULL THEN ST_AsGeoJSON(r.geom, 6)::json
                    ELSE ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(
                        ST_Transform(r.geom, 4549), p.tol), 4326),
                        CASE WHEN p.tol >= 20 THEN 4 ELSE 6 END)::json END,
                'properties', json_build_object('code', r.code, 'name', r.name,
                                                'details', r.extra)::jsonb
                    || CASE WHEN r.kind IS NULL THEN '{}'::jsonb
                       ELSE jsonb_build_object('people', area_people(r.kind, r.id, at)) END
            ) ORDER BY r.code)) AS fc
        FROM ranked r, p
        WHERE max_features IS NULL OR r.rn <= max_features
        GROUP BY r.layer
    ) l
$$;
COMMENT ON FUNCTION overview_layers(timestamptz, text[], geometry, int, double precision)
    IS 'The overview map''s layers at a moment as GeoJSON FeatureCollections keyed by layer: villages, grids and beats of the plan in force with the people assigned, water markers, rental houses, cameras and police work points / governance stations; optionally some layers, within a bbox, at most max_features per layer (then "truncated" and "total").';
