-- Cameras for the command room's map: view sectors, and road stretches of a beat that no
-- working camera sees. Beats and plans are named through analysis_plan and analysis_beat
-- (60_patrol.sql), whose refusals carry the parameter name in HINT. Metric work in EPSG:4549.

-- Signatures of this file that changed are dropped first (none yet).

CREATE OR REPLACE FUNCTION camera_sectors()
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'type', 'FeatureCollection',
        'features', coalesce(json_agg(json_build_object(
            'type', 'Feature',
            'id', c.code,
            'geometry', ST_AsGeoJSON(c.view_sector, 6)::json,
            'properties', json_build_object(
                'code', c.code, 'name', c.name, 'kind', c.kind, 'status', c.status,
                'heading', c.heading, 'fov_deg', c.fov_deg, 'range_m', c.range_m,
                'lon', round(ST_X(c.geom)::numeric, 6), 'lat', round(ST_Y(c.geom)::numeric, 6))
        ) ORDER BY c.code), '[]'))
    FROM camera c
$$;
COMMENT ON FUNCTION camera_sectors()
    IS 'Every camera with its view sector (from heading, field of view and range) as a GeoJSON FeatureCollection.';

-- Blind road stretches: for each beat, each road clipped to the beat outline (closed, so a road
-- along a shared border counts in both beats) minus the union of the view sectors of the
-- working cameras; lengths in metres in EPSG:4549.
CREATE OR REPLACE FUNCTION blind_roads(
    beat_code text, at timestamptz, plan_code text DEFAULT NULL
)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    pid int := analysis_plan(plan_code, at);
    bid int := analysis_beat(pid, beat_code);
BEGIN
    RETURN (
        WITH b AS (
            SELECT o.beat_id, o.code, o.name, o.geom, ST_Transform(o.geom, 4549) AS metric
            FROM beat_outline o
            WHERE o.plan_id = pid AND (bid IS NULL OR o.beat_id = bid)
        ),
        seen AS (
            SELECT b.beat_id, count(c.id) AS cameras,
                   ST_Union(ST_Transform(c.view_sector, 4549)) AS geom
            FROM b
            JOIN camera c ON c.status = 'working' AND c.view_sector && b.geom
                         AND ST_Intersects(c.view_sector, b.geom)
            GROUP BY b.beat_id
        ),
        piece AS (
            SELECT b.beat_id, r.code, r.name, r.kind,
                   ST_CollectionExtract(ST_Intersection(ST_Transform(r.geom, 4549), b.metric), 2)
                       AS geom
            FROM b
            JOIN road r ON r.geom && b.geom AND ST_Intersects(r.geom, b.geom)
        ),
        blind AS (
            SELECT p.beat_id, p.code, p.name, p.kind,
                   ST_Length(p.geom) AS road_m,
                   CASE WHEN s.geom IS NULL THEN p.geom
                        ELSE ST_CollectionExtract(ST_Difference(p.geom, s.geom), 2) END AS geom
            FROM piece p
            LEFT JOIN seen s ON s.beat_id = p.beat_id
        ),
        per_beat AS (
            SELECT b.beat_id, b.code, b.name,
                   coalesce((SELECT s.cameras FROM seen s WHERE s.beat_id = b.beat_id), 0)
                       AS cameras,
                   coalesce(sum(bl.road_m), 0) AS road_m,
                   coalesce(sum(ST_Length(bl.geom)), 0) AS blind_m
            FROM b
            LEFT JOIN blind bl ON bl.beat_id = b.beat_id
            GROUP BY b.beat_id, b.code, b.name
        )
        SELECT json_build_object(
            'type', 'FeatureCollection',
            'plan', (SELECT p.code FROM beat_plan p WHERE p.id = pid),
            'beats', (SELECT coalesce(json_agg(json_build_object(
                          'code', pb.code, 'name', pb.name, 'working_cameras', pb.cameras,
                          'road_length_m', round(pb.road_m::numeric, 1),
                          'blind_length_m', round(pb.blind_m::numeric, 1),
                          'blind_share', round((pb.blind_m / nullif(pb.road_m, 0))::numeric, 4))
                      ORDER BY pb.code), '[]')
                      FROM per_beat pb),
            'features', (SELECT coalesce(json_agg(json_build_object(
                             'type', 'Feature',
                             'geometry', ST_AsGeoJSON(ST_Transform(ST_LineMerge(bl.geom), 4326),
                                                      7)::json,
                             'properties', json_build_object(
                                 'beat', b.code, 'road', bl.code, 'road_name', bl.name,
                                 'road_kind', bl.kind,
                                 'road_length_m', round(bl.road_m::numeric, 1),
                                 'blind_length_m', round(ST_Length(bl.geom)::numeric, 1))
                         ) ORDER BY b.code, bl.code), '[]')
                         FROM blind bl JOIN b ON b.beat_id = bl.beat_id
                         WHERE ST_Length(bl.geom) > 0.05)
        )
    );
END;
$$;
COMMENT ON FUNCTION blind_roads(text, timestamptz, text)
    IS 'Road stretches in a beat (all beats of the plan when NULL) that no working camera sees, as GeoJSON with lengths in metres (EPSG:4549), and per-beat totals.';
