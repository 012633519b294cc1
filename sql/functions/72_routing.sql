-- Recommended units (issue 12, section 2): the road layer as the edges of the service's routing
-- graph (geo_service/services/routing.py builds it once per worker and scope and keeps it until
-- basemap_version changes), and an incident with the units on duty and available at a moment.
-- Both run with the caller's rights: row-level security gives each user the roads and units of
-- their scope.

CREATE OR REPLACE FUNCTION road_network()
RETURNS TABLE (code text, kind text, geom_m bytea)
LANGUAGE sql STABLE AS $$
    SELECT r.code, r.kind, ST_AsBinary(ST_Transform(r.geom, 4549))
    FROM road r
    ORDER BY r.code
$$;
COMMENT ON FUNCTION road_network()
    IS 'Every road the caller sees, as WKB in EPSG:4549 (metres) with its code and kind: the edges of the routing graph (a road joins the roads whose ends meet its ends).';

CREATE OR REPLACE FUNCTION recommend_units(call_no text, at timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    inc record;
    answer jsonb;
BEGIN
    SELECT i.id, i.call_no, i.category, i.status, i.received_at, i.geom, i.beat_id,
           b.code AS beat, ST_Transform(i.geom, 4549) AS geom_m
    INTO inc
    FROM incident i LEFT JOIN beat b ON b.id = i.beat_id
    WHERE i.call_no = recommend_units.call_no;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No incident with call number %', recommend_units.call_no
            USING ERRCODE = 'no_data_found', HINT = 'call_no';
    END IF;
    SELECT jsonb_build_object(
        'network', jsonb_build_object(
            'version', basemap_version(), 'sees_all', app_sees_all(),
            'grids', to_jsonb(app_grids()), 'villages', to_jsonb(app_villages())),
        'incident', jsonb_build_object(
            'call_no', inc.call_no, 'category', inc.category, 'status', inc.status,
            'received_at', inc.received_at, 'beat', inc.beat,
            'lon', ST_X(inc.geom), 'lat', ST_Y(inc.geom),
            'x', ST_X(inc.geom_m), 'y', ST_Y(inc.geom_m)),
        'units', coalesce(jsonb_agg(jsonb_build_object(
            'call_sign', u.call_sign, 'unit_kind', u.unit_kind, 'person', u.person,
            'person_name', u.person_name, 'fixed_at', u.fixed_at,
            'lon', u.lon, 'lat', u.lat, 'x', u.x, 'y', u.y,
            'distance_m', u.distance_m, 'own_beat', u.own_beat) ORDER BY u.call_sign), '[]'))
    INTO answer
    FROM (
        SELECT s.call_sign, s.unit_kind, p.code AS person, p.name AS person_name, us.fixed_at,
               ST_X(us.geom) AS lon, ST_Y(us.geom) AS lat,
               ST_X(ST_Transform(us.geom, 4549)) AS x, ST_Y(ST_Transform(us.geom, 4549)) AS y,
               ST_Distance(us.geom::geography, inc.geom::geography) AS distance_m,
               EXISTS (SELECT 1 FROM assignment a
                       WHERE a.person_id = s.person_id AND a.area_kind = 'beat'
                         AND a.beat_id = inc.beat_id
                         AND a.validity @> recommend_units.at) AS own_beat
        FROM duty_shift s
        LEFT JOIN unit_state us ON us.call_sign = s.call_sign
        JOIN person p ON p.id = s.person_id
        WHERE tstzrange(s.starts_at, s.ends_at, '[)') @> recommend_units.at
          AND coalesce(us.status, 'available') = 'available'
    ) u;
    RETURN answer;
END;
$$;
COMMENT ON FUNCTION recommend_units(text, timestamptz)
    IS 'An incident (by call number; unknown: no_data_found, HINT call_no) with the units on duty at the moment (their shift covers it) and available (a unit with no state yet, no fix since its shift began, counts as available), their last position (lon/lat, and x/y in EPSG:4549; null when none), straight-line distance in metres (geography) and whether the unit''s person is assigned to the incident''s beat then; with the road network''s version and the caller''s scope, the key of the cached graph.';
