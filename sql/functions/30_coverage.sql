-- Areas and people: the details of one area with its neighbours, and what a person covers.

-- The grids an area is made of at a moment (a beat's grids come from the plan in force).
CREATE OR REPLACE FUNCTION area_grids(area_kind text, area_id int)
RETURNS TABLE (grid_id int)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT g.id FROM grid g
    WHERE (area_kind = 'grid' AND g.id = area_id)
       OR (area_kind = 'village' AND g.village_id = area_id)
       OR (area_kind = 'station' AND g.village_id IN (SELECT id FROM village
                                                       WHERE station_id = area_id))
       OR (area_kind = 'beat' AND g.id IN (SELECT bg.grid_id FROM beat_grid bg
                                           WHERE bg.beat_id = area_id))
$$;
COMMENT ON FUNCTION area_grids(text, int)
    IS 'Ids of the grids that make up an area (station, village, grid or beat).';

-- Counts of what lies in an area, each point placed by the boundary rule of grid_at_point.
CREATE OR REPLACE FUNCTION area_counts(area_kind text, area_id int, at timestamptz)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH ids AS (SELECT array_agg(grid_id) AS grids FROM area_grids(area_kind, area_id)),
    box AS (SELECT ST_Extent(g.geom)::geometry AS b FROM grid g, ids WHERE g.id = ANY (ids.grids))
    SELECT json_build_object(
        'grids', cardinality(ids.grids),
        'rental_houses', (SELECT count(*) FROM rental_house r
                          WHERE r.geom && box.b AND grid_at_point(r.geom) = ANY (ids.grids)),
        'cameras', (SELECT count(*) FROM camera c
                    WHERE c.geom && box.b AND grid_at_point(c.geom) = ANY (ids.grids)),
        'water_markers', (SELECT count(*) FROM water_marker m
                          WHERE m.geom && box.b AND grid_at_point(m.geom) = ANY (ids.grids)),
        'incidents_last_30_days', (SELECT count(*) FROM incident i
                                   WHERE i.grid_id = ANY (ids.grids)
                                     AND i.received_at >= at - interval '30 days'
                                     AND i.received_at < at)
    )
    FROM ids, box
$$;
COMMENT ON FUNCTION area_counts(text, int, timestamptz)
    IS 'Counts of rental houses, cameras, water markers and incidents of the 30 days before a moment in an area.';

CREATE OR REPLACE FUNCTION area_people(area_kind text, area_id int, at timestamptz)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(json_agg(json_build_object(
               'code', pe.code, 'name', pe.name, 'role', a.role,
               'phone', app_phone(pe.id, pe.phone),
               'valid_from', a.valid_from, 'valid_to', a.valid_to) ORDER BY a.role, pe.code), '[]')
    FROM assignment a JOIN person pe ON pe.id = a.person_id
    WHERE a.area_kind = area_people.area_kind
      AND coalesce(a.station_id, a.village_id, a.grid_id, a.beat_id) = area_id
      AND a.validity @> at
$$;
COMMENT ON FUNCTION area_people(text, int, timestamptz)
    IS 'People assigned to an area at a moment, with roles and contacts.';

-- One area as a GeoJSON Feature: details, people, counts and neighbours of the same kind.
-- Beats are those of the plan in force at the moment (or the plan named by plan_code).
CREATE OR REPLACE FUNCTION area_details(
    area_kind text, area_code text, at timestamptz, plan_code text DEFAULT NULL
)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    a record;
    pid int;
BEGIN
    IF area_kind = 'beat' THEN
        pid := CASE WHEN plan_code IS NULL THEN plan_in_force(at)
                    ELSE (SELECT id FROM beat_plan WHERE code = plan_code) END;
        IF pid IS NULL AND plan_code IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'no_data_found', HINT = 'plan',
                MESSAGE = format('There is no beat plan with code ''%s''.', plan_code);
        END IF;
        SELECT b.id, b.code, b.name, o.geom,
               json_build_object('plan', p.code, 'plan_status', p.status,
                                 'effective_from', p.effective_from) AS extra
        INTO a
        FROM beat b JOIN beat_plan p ON p.id = b.plan_id
        JOIN beat_outline o ON o.beat_id = b.id
        WHERE b.plan_id = pid AND b.code = area_code;
    ELSIF area_kind = 'grid' THEN
        SELECT g.id, g.code, g.name, g.geom,
               json_build_object('village', json_build_object('code', v.code, 'name', v.name),
                                 'beat', (SELECT json_build_object('code', b.code, 'name', b.name)
                                          FROM beat_grid bg JOIN beat b ON b.id = bg.beat_id
                                          WHERE bg.grid_id = g.id
                                            AND bg.plan_id = plan_in_force(at))) AS extra
        INTO a
        FROM grid g JOIN village v ON v.id = g.village_id WHERE g.code = area_code;
    ELSIF area_kind = 'village' THEN
        SELECT v.id, v.code, v.name, v.geom, json_build_object('kind', v.kind) AS extra
        INTO a FROM village v WHERE v.code = area_code;
    ELSIF area_kind = 'station' THEN
        SELECT s.id, s.code, s.name, s.geom, json_build_object() AS extra
        INTO a FROM station s WHERE s.code = area_code;
    ELSE
        RETURN NULL;
    END IF;
    IF a.id IS NULL THEN
        RETURN NULL;
    END IF;

    RETURN json_build_object(
        'type', 'Feature',
        'id', a.code,
        'geometry', ST_AsGeoJSON(a.geom, 7)::json,
        'properties', json_build_object(
            'kind', area_kind, 'code', a.code, 'name', a.name, 'at', at,
            'area_km2', round((ST_Area(a.geom::geography) / 1e6)::numeric, 4),
            'details', a.extra,
            'people', area_people(area_kind, a.id, at),
            'counts', area_counts(area_kind, a.id, at),
            'neighbours', (
                SELECT coalesce(json_agg(json_build_object(
                           'code', n.code, 'name', n.name,
                           'shared_border_m', round(n.shared_m::numeric, 1))
                       ORDER BY n.code), '[]')
                FROM (
                    SELECT o.code, o.name,
                           ST_Length(ST_Intersection(ST_Boundary(o.geom),
                                                     ST_Boundary(a.geom))::geography) AS shared_m
                    FROM (
                        SELECT code, name, geom FROM grid WHERE area_kind = 'grid'
                        UNION ALL SELECT code, name, geom FROM village WHERE area_kind = 'village'
                        UNION ALL SELECT code, name, geom FROM beat_outline
                                  WHERE area_kind = 'beat' AND plan_id = pid
                    ) o
                    WHERE o.code <> a.code AND ST_Intersects(o.geom, a.geom)
                ) n
                WHERE n.shared_m > 0)
        )
    );
END;
$$;
COMMENT ON FUNCTION area_details(text, text, timestamptz, text)
    IS 'An area (station, village, grid or beat) as a GeoJSON Feature with people, counts and neighbours sharing a border; NULL for an unknown area, no_data_found (HINT plan) for an unknown plan.';

-- Assignments with the code and name of the area they name (and the beat's plan).
CREATE OR REPLACE VIEW assignment_area AS
SELECT a.id, a.person_id, a.role, a.area_kind,
       coalesce(a.station_id, a.village_id, a.grid_id, a.beat_id) AS area_id,
       ar.code AS area_code, ar.name AS area_name, ar.plan AS plan_code,
       a.valid_from, a.valid_to, a.validity
FROM assignment a
CROSS JOIN LATERAL (
    SELECT s.code, s.name, NULL::text AS plan FROM station s WHERE s.id = a.station_id
    UNION ALL SELECT v.code, v.name, NULL FROM village v WHERE v.id = a.village_id
    UNION ALL SELECT g.code, g.name, NULL FROM grid g WHERE g.id = a.grid_id
    UNION ALL SELECT b.code, b.name, p.code FROM beat b
              JOIN beat_plan p ON p.id = b.plan_id WHERE b.id = a.beat_id
) ar;

CREATE OR REPLACE FUNCTION person_coverage(person_code text, at timestamptz)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'person', json_build_object('code', pe.code, 'name', pe.name, 'role', pe.role,
                                    'phone', app_phone(pe.id, pe.phone)),
        'at', at,
        'areas', (
            SELECT coalesce(json_agg(json_build_object(
                       'area_kind', a.area_kind, 'code', a.area_code, 'name', a.area_name,
                       'plan', a.plan_code, 'role', a.role,
                       'valid_from', a.valid_from, 'valid_to', a.valid_to,
                       'counts', area_counts(a.area_kind, a.area_id, at))
                   ORDER BY a.valid_from), '[]')
            FROM assignment_area a
            WHERE a.person_id = pe.id AND a.validity @> at),
        'history', (
            SELECT coalesce(json_agg(json_build_object(
                       'area_kind', a.area_kind, 'code', a.area_code, 'name', a.area_name,
                       'plan', a.plan_code, 'role', a.role,
                       'valid_from', a.valid_from, 'valid_to', a.valid_to)
                   ORDER BY a.valid_from), '[]')
            FROM assignment_area a WHERE a.person_id = pe.id)
    )
    FROM person pe WHERE pe.code = person_code
$$;
COMMENT ON FUNCTION person_coverage(text, timestamptz)
    IS 'The areas a person covers at a moment, with counts of what lies in them, and their whole assignment history; NULL if unknown.';
