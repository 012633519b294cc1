-- "Who covers this point": one call answers the command room's question as JSON.
-- Distances to markers and water are measured in EPSG:4549 (metres; scale error under 1e-4
-- across the county); distances to cameras and the nearest village on the spheroid. A point
-- outside the jurisdiction is never taken to EPSG:4549: that projection is only defined near
-- its zone, and a point far away (say 25°E 0°N) has no coordinates in it.

-- The answer was one json value up to 0.2.2; it is now (inside, answer), so that the service
-- passes an inside answer through without parsing it. The old one is dropped once; every later
-- migrate replaces the function in place (same oid, so running sessions keep their plans).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'lookup_point'
               AND prorettype = 'json'::regtype) THEN
        DROP FUNCTION lookup_point(float8, float8, timestamptz, float8, float8);
    END IF;
END;
$$;
CREATE OR REPLACE FUNCTION lookup_point(
    lon float8, lat float8, at timestamptz,
    marker_radius_m float8 DEFAULT 500, water_radius_m float8 DEFAULT 200,
    OUT inside boolean, OUT answer json
)
LANGUAGE plpgsql STABLE PARALLEL SAFE
-- One plan per statement, made once per connection: PostgreSQL would otherwise plan grid_at
-- again on every call (its custom plan looks cheaper than the generic one), and at the large
-- scale that planning (PostGIS reading the 20,009 grids' statistics) cost more than the search,
-- about 0.1-0.15 ms of a 0.25-0.35 ms lookup. The generic plans use the same indexes.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    p geometry := ST_SetSRID(ST_MakePoint(lon, lat), 4326);
    pg geography := p::geography;
    pm geometry;  -- p in EPSG:4549, once p is known to be inside
    g record;
    pl record;
    nearest json;
    covering text[] := ARRAY['community_officer', 'auxiliary_officer', 'grid_worker',
                             'police_assistant', 'village_cadre'];  -- in the answer's order
BEGIN
    -- a user who does not see the whole station asks only inside their own grids (a 403
    -- naming them otherwise); the station's roles pass on this one comparison
    IF app_scope() <> 'station' AND NOT app_operator() THEN
        PERFORM app_require_point(p);
    END IF;
    -- grid_at and plan_at are inlined here, so each statement keeps one cached plan
    -- the grid with its village, and the plan in force with the grid's beat in it: two
    -- statements, not four (each statement of a lookup costs its own executor start)
    SELECT ga.id, ga.code, ga.name, ga.village_id, vi.code AS village_code,
           vi.name AS village_name, vi.kind AS village_kind
    INTO g
    FROM grid_at(p) ga LEFT JOIN village vi ON vi.id = ga.village_id;

    IF g.id IS NULL THEN
        SELECT json_build_object(
                   'kind', 'village', 'code', code, 'name', name,
                   'distance_m', round(ST_Distance(geom::geography, pg)::numeric, 1))
        INTO nearest
        FROM village ORDER BY geom <-> p LIMIT 1;
        inside := false;
        answer := json_build_object('outside', true, 'nearest', nearest);
        RETURN;
    END IF;
    pm := ST_Transform(p, 4549);

    SELECT pa.id, pa.code, pa.name, pa.effective_from, be.id AS beat_id,
           be.code AS beat_code, be.name AS beat_name
    INTO pl
    FROM plan_at(at) pa
    LEFT JOIN beat_grid bg ON bg.plan_id = pa.id AND bg.grid_id = g.id
    LEFT JOIN beat be ON be.id = bg.beat_id;

    inside := true;
    answer := json_build_object(
        'outside', false,
        'point', json_build_object('lon', lon, 'lat', lat),
        'at', at,
        'village', json_build_object('code', g.village_code, 'name', g.village_name,
                                     'kind', g.village_kind),
        'grid', json_build_object('code', g.code, 'name', g.name),
        'beat', CASE WHEN pl.beat_id IS NULL THEN NULL
                     ELSE json_build_object('code', pl.beat_code, 'name', pl.beat_name) END,
        'plan', CASE WHEN pl.id IS NULL THEN NULL
                     ELSE json_build_object('code', pl.code, 'name', pl.name,
                                            'effective_from', pl.effective_from) END,
        'people', (
            -- only the three areas' own indexes (a bitmap OR) can serve this, whatever the
            -- statistics: roles and "in force" are written so that the exclusion
            -- constraint's index over every assignment cannot take them (9-12 ms a lookup
            -- at the large scale when the planner had no statistics)
            SELECT coalesce(json_agg(json_build_object(
                       'code', pe.code, 'name', pe.name, 'role', a.role,
                       'phone', app_phone(pe.id, pe.phone),
                       'area_kind', a.area_kind, 'valid_from', a.valid_from)
                   ORDER BY array_position(covering, a.role), pe.code)
                   FILTER (WHERE a.role = ANY (covering)), '[]')
            FROM assignment a JOIN person pe ON pe.id = a.person_id
            WHERE (a.beat_id = pl.beat_id OR a.grid_id = g.id OR a.village_id = g.village_id)
              AND a.valid_from <= at AND (a.valid_to IS NULL OR a.valid_to > at)),
        'cameras', (
            SELECT coalesce(json_agg(json_build_object(
                       'code', c.code, 'name', c.name, 'kind', c.kind, 'status', c.status,
                       'heading', c.heading,
                       'distance_m', round(ST_Distance(c.geom::geography, pg)::numeric, 1))
                   ORDER BY c.geom <-> p), '[]')
            FROM camera c WHERE ST_Intersects(c.view_sector, p)),
        'rescue_markers', (
            SELECT coalesce(json_agg(m ORDER BY m.distance_m), '[]') FROM (
                SELECT wm.code, wm.kind, wm.status, wb.name AS water_body,
                       round(ST_Distance(wm.geom_metric, pm)::numeric, 1) AS distance_m
                FROM water_marker wm LEFT JOIN water_body wb ON wb.id = wm.water_body_id
                WHERE wm.kind IN ('rescue_pole', 'lifebuoy') AND wm.status = 'ok'
                  AND ST_DWithin(wm.geom_metric, pm, marker_radius_m)
                ORDER BY wm.geom_metric <-> pm
                LIMIT 5) m),
        'water_bodies', (
            -- through the water bodies' small pieces (migration 011): a river's whole outline
            -- has up to 5,800 vertices and a box over much of the town
            SELECT coalesce(json_agg(w ORDER BY w.distance_m, w.code), '[]') FROM (
                SELECT wb.code, wb.name, wb.kind, round(n.distance::numeric, 1) AS distance_m
                FROM (SELECT wp.water_body_id, min(ST_Distance(wp.geom_metric, pm)) AS distance
                      FROM water_body_piece wp
                      WHERE ST_DWithin(wp.geom_metric, pm, water_radius_m)
                      GROUP BY wp.water_body_id) n
                JOIN water_body wb ON wb.id = n.water_body_id) w)
    );
END;
$$;
COMMENT ON FUNCTION lookup_point(float8, float8, timestamptz, float8, float8)
    IS 'Who covers a WGS 84 point at a moment: inside, and as JSON the village, grid, beat and plan in force, people on duty, cameras that see it, nearest working rescue markers and nearby water; outside the jurisdiction (any valid lon/lat), inside false and {"outside": true, "nearest": ...} naming the nearest village. As the signed-in user sees it: people, cameras, markers and water of their areas, phones masked by app_phone; a user in areas scope asking outside their grids gets insufficient_privilege (HINT areas) naming their areas.';
