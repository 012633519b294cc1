-- Water safety for the drowning-prevention teams: shore farther than a distance from every
-- working rescue pole, and markers by status and inspection age. Metric work in EPSG:4549.

-- Signatures of this file that changed are dropped first (none yet).

-- Shore gaps: the boundary of each water body farther than distance_m from every working
-- (status ok) rescue pole, whichever water body the pole stands by. Reach circles are buffers
-- of 128 segments; lengths in metres in EPSG:4549.
CREATE OR REPLACE FUNCTION shore_gaps(distance_m double precision)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH shore AS (
        SELECT w.code, w.name, w.kind, ST_Boundary(w.geom_metric) AS geom, reach.poles,
               reach.geom AS reach
        FROM water_body w
        LEFT JOIN LATERAL (
            SELECT count(*) AS poles,
                   ST_Union(ST_Buffer(m.geom_metric, distance_m, 'quad_segs=32')) AS geom
            FROM water_marker m
            WHERE m.kind = 'rescue_pole' AND m.status = 'ok'
              AND ST_DWithin(m.geom_metric, w.geom_metric, distance_m)
        ) reach ON true
    ),
    gap AS (
        SELECT s.code, s.name, s.kind, s.poles, ST_Length(s.geom) AS shore_m,
               CASE WHEN s.reach IS NULL THEN s.geom
                    ELSE ST_CollectionExtract(ST_Difference(s.geom, s.reach), 2) END AS geom
        FROM shore s
    )
    SELECT json_build_object(
        'type', 'FeatureCollection',
        'distance_m', distance_m,
        'water_bodies', coalesce(json_agg(json_build_object(
            'code', g.code, 'name', g.name, 'kind', g.kind, 'poles_in_reach', g.poles,
            'shore_length_m', round(g.shore_m::numeric, 1),
            'gap_length_m', round(ST_Length(g.geom)::numeric, 1),
            'gap_share', round((ST_Length(g.geom) / nullif(g.shore_m, 0))::numeric, 4))
            ORDER BY g.code), '[]'),
        'totals', json_build_object(
            'shore_length_m', round(coalesce(sum(g.shore_m), 0)::numeric, 1),
            'gap_length_m', round(coalesce(sum(ST_Length(g.geom)), 0)::numeric, 1)),
        'features', coalesce(json_agg(json_build_object(
            'type', 'Feature',
            'id', g.code,
            'geometry', ST_AsGeoJSON(ST_Transform(ST_LineMerge(g.geom), 4326), 7)::json,
            'properties', json_build_object(
                'code', g.code, 'name', g.name, 'kind', g.kind,
                'shore_length_m', round(g.shore_m::numeric, 1),
                'gap_length_m', round(ST_Length(g.geom)::numeric, 1))
            ) ORDER BY g.code) FILTER (WHERE ST_Length(g.geom) > 0.05), '[]')
    )
    FROM gap g
$$;
COMMENT ON FUNCTION shore_gaps(double precision)
    IS 'Stretches of water-body shore farther than distance_m from every working rescue pole, as GeoJSON with lengths in metres (EPSG:4549), and per-water-body totals.';

CREATE OR REPLACE FUNCTION water_marker_status(at timestamptz, due_days int)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'type', 'FeatureCollection',
        'at', at,
        'due_days', due_days,
        'features', coalesce(json_agg(json_build_object(
            'type', 'Feature',
            'id', m.code,
            'geometry', ST_AsGeoJSON(m.geom, 7)::json,
            'properties', json_build_object(
                'code', m.code, 'kind', m.kind, 'status', m.status,
                'water_body', w.code, 'water_body_name', w.name,
                'last_inspected_at', m.last_inspected_at,
                'inspection_age_days', floor(extract(epoch FROM at - m.last_inspected_at) / 86400),
                'inspection_due', m.last_inspected_at IS NULL
                                  OR m.last_inspected_at < at - make_interval(days => due_days))
        ) ORDER BY m.code), '[]'))
    FROM water_marker m
    LEFT JOIN water_body w ON w.id = m.water_body_id
$$;
COMMENT ON FUNCTION water_marker_status(timestamptz, int)
    IS 'Every water marker with status, days since its last inspection at a moment and whether an inspection is due (older than due_days), as GeoJSON.';
