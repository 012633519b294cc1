-- Analysis for the planners' and drowning-prevention maps: patrol coverage of beats by H3 cells,
-- road stretches no working camera sees, and shore farther than a distance from a working rescue
-- pole. Each question is one function returning JSON; metric work is done in EPSG:4549.
--
-- Unknown plans and beats raise SQLSTATE P0002 (no_data_found) with a message for the user.

-- Signatures of this file that changed are dropped first (none yet).

CREATE OR REPLACE FUNCTION analysis_plan(plan_code text, at timestamptz)
RETURNS int
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    pid int;
BEGIN
    IF plan_code IS NULL THEN
        pid := plan_in_force(at);
        IF pid IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'no_data_found',
                MESSAGE = format('No published beat plan is in force at %s.', at);
        END IF;
    ELSE
        SELECT id INTO pid FROM beat_plan WHERE code = plan_code;
        IF pid IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'no_data_found',
                MESSAGE = format('There is no beat plan with code ''%s''.', plan_code);
        END IF;
    END IF;
    RETURN pid;
END;
$$;
COMMENT ON FUNCTION analysis_plan(text, timestamptz)
    IS 'Id of the beat plan named by code, or of the plan in force at a moment when no code is given; raises no_data_found when there is none.';

CREATE OR REPLACE FUNCTION analysis_beat(plan_id int, beat_code text)
RETURNS int
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    bid int;
BEGIN
    IF beat_code IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT b.id INTO bid FROM beat b WHERE b.plan_id = analysis_beat.plan_id AND b.code = beat_code;
    IF bid IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found',
            MESSAGE = format('There is no beat ''%s'' in plan %s.', beat_code,
                             (SELECT code FROM beat_plan p WHERE p.id = analysis_beat.plan_id));
    END IF;
    RETURN bid;
END;
$$;
COMMENT ON FUNCTION analysis_beat(int, text)
    IS 'Id of the beat with a code in a plan (NULL for no code); raises no_data_found when the plan has no such beat.';

-- ------------------------------------------------------------------------------ patrol coverage

-- The period a coverage question is about: [period_from, period_to). Without an end, the end of
-- the station day (UTC+8) of the latest position fix (now when there is none); without a start,
-- 30 days before the end.
CREATE OR REPLACE FUNCTION patrol_period(
    INOUT period_from timestamptz, INOUT period_to timestamptz
)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF period_to IS NULL THEN
        SELECT (date_trunc('day', max(f.recorded_at) AT TIME ZONE 'Asia/Shanghai')
                + interval '1 day') AT TIME ZONE 'Asia/Shanghai'
        INTO period_to
        FROM (SELECT recorded_at FROM position_fix ORDER BY recorded_at DESC LIMIT 1) f;
        period_to := coalesce(period_to, now());
    END IF;
    period_from := coalesce(period_from, period_to - interval '30 days');
    IF period_to <= period_from THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('the period ends (%s) before it starts (%s)', period_to, period_from);
    END IF;
END;
$$;
COMMENT ON FUNCTION patrol_period(timestamptz, timestamptz)
    IS 'A patrol period with defaults filled in: the end of the day of the latest position fix, and 30 days before the end.';
-- A beat's cells are the H3 cells (resolution 10) whose centre lies in one of its grids by the
-- boundary rule (table grid_cell, migration 008). A cell is visited in a period when at least
-- one position fix recorded in [period_from, period_to) has that cell (position_fix.h3, stamped
-- on storage). Time since the last visit is counted back from period_to. Without a plan code
-- the beats are those of the plan in force at the end of the period. NULL bounds take the
-- defaults of patrol_period.

CREATE OR REPLACE FUNCTION patrol_coverage(
    period_from timestamptz, period_to timestamptz, plan_code text DEFAULT NULL
)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    pid int;
BEGIN
    SELECT * INTO period_from, period_to FROM patrol_period(period_from, period_to);
    pid := analysis_plan(plan_code, period_to - interval '1 microsecond');
    RETURN (
        WITH visit AS (
            SELECT f.h3, max(f.recorded_at) AS last_visit, count(*) AS fixes
            FROM position_fix f
            WHERE f.recorded_at >= period_from AND f.recorded_at < period_to
            GROUP BY f.h3
        ),
        cell AS (
            SELECT bg.beat_id, v.last_visit, v.fixes
            FROM beat_grid bg
            JOIN grid_cell c ON c.grid_id = bg.grid_id
            LEFT JOIN visit v ON v.h3 = c.h3
            WHERE bg.plan_id = pid
        ),
        per_beat AS (
            SELECT b.code, b.name,
                   count(c.beat_id) AS cells,
                   count(c.last_visit) AS visited,
                   coalesce(sum(c.fixes), 0) AS fixes,
                   max(c.last_visit) AS last_visit,
                   percentile_cont(0.5) WITHIN GROUP (
                       ORDER BY extract(epoch FROM period_to - c.last_visit)) / 3600.0
                       AS median_hours
            FROM beat b
            LEFT JOIN cell c ON c.beat_id = b.id
            WHERE b.plan_id = pid
            GROUP BY b.id
        )
        SELECT json_build_object(
            'plan', (SELECT json_build_object('code', p.code, 'status', p.status,
                                              'effective_from', p.effective_from)
                     FROM beat_plan p WHERE p.id = pid),
            'from', period_from,
            'to', period_to,
            'h3_resolution', 10,
            'cells_fresh', (SELECT s.fresh FROM grid_cell_state s),
            'beats', coalesce(json_agg(json_build_object(
                'code', pb.code, 'name', pb.name,
                'cells', pb.cells,
                'visited_cells', pb.visited,
                'never_visited_cells', pb.cells - pb.visited,
                'share', round(pb.visited::numeric / nullif(pb.cells, 0), 4),
                'fixes_in_cells', pb.fixes,
                'last_visit', pb.last_visit,
                'median_hours_since_visit', round(pb.median_hours::numeric, 1)
            ) ORDER BY pb.code), '[]'),
            'totals', json_build_object(
                'cells', coalesce(sum(pb.cells), 0),
                'visited_cells', coalesce(sum(pb.visited), 0),
                'share', round(sum(pb.visited)::numeric / nullif(sum(pb.cells), 0), 4))
        )
        FROM per_beat pb
    );
END;
$$;
COMMENT ON FUNCTION patrol_coverage(timestamptz, timestamptz, text)
    IS 'Patrol coverage per beat in [period_from, period_to): H3 res 10 cells of the beat, cells visited by a position fix, share, fixes, last visit, median hours since a visit.';

-- patrol_cells answers in pages by key: the cells in H3 index order after after_cell (the id
-- of the last cell of the previous page), at most max_cells of them (NULL: all), and
-- next_after, the key to ask the next page with, or NULL on the last page. A cell is in one
-- grid and a grid in one beat of a plan, so the index alone orders the cells of a plan.
DROP FUNCTION IF EXISTS patrol_cells(text, timestamptz, timestamptz, text, boolean);
CREATE OR REPLACE FUNCTION patrol_cells(
    beat_code text, period_from timestamptz, period_to timestamptz,
    plan_code text DEFAULT NULL, only_visited boolean DEFAULT false,
    after_cell bigint DEFAULT NULL, max_cells int DEFAULT NULL
)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    pid int;
    bid int;
BEGIN
    SELECT * INTO period_from, period_to FROM patrol_period(period_from, period_to);
    pid := analysis_plan(plan_code, period_to - interval '1 microsecond');
    bid := analysis_beat(pid, beat_code);
    RETURN (
        WITH cell AS (
            SELECT b.code AS beat, g.code AS grid, c.h3, c.geom
            FROM beat_grid bg
            JOIN beat b ON b.id = bg.beat_id
            JOIN grid g ON g.id = bg.grid_id
            JOIN grid_cell c ON c.grid_id = bg.grid_id
            WHERE bg.plan_id = pid AND (bid IS NULL OR bg.beat_id = bid)
              AND (after_cell IS NULL OR c.h3 > after_cell)
            ORDER BY c.h3
            -- a page of visited cells may have to look past any number of unvisited ones
            LIMIT CASE WHEN only_visited THEN NULL ELSE max_cells + 1 END
        ),
        visit AS (
            SELECT f.h3, max(f.recorded_at) AS last_visit, count(*) AS fixes
            FROM position_fix f
            WHERE f.recorded_at >= period_from AND f.recorded_at < period_to
              AND f.h3 IN (SELECT cell.h3 FROM cell)
            GROUP BY f.h3
        ),
        page AS (  -- one cell more than asked for tells whether a next page exists
            SELECT c.beat, c.grid, c.h3, c.geom, v.h3 IS NOT NULL AS visited,
                   coalesce(v.fixes, 0) AS fixes, v.last_visit
            FROM cell c
            LEFT JOIN visit v ON v.h3 = c.h3
            WHERE NOT only_visited OR v.h3 IS NOT NULL
            ORDER BY c.h3
            LIMIT max_cells + 1
        ),
        shown AS (
            SELECT * FROM page ORDER BY h3 LIMIT max_cells
        )
        SELECT json_build_object(
            'type', 'FeatureCollection',
            'plan', (SELECT p.code FROM beat_plan p WHERE p.id = pid),
            'beat', beat_code,
            'from', period_from,
            'to', period_to,
            'cells_fresh', (SELECT st.fresh FROM grid_cell_state st),
            'next_after', CASE WHEN (SELECT count(*) FROM page) > count(*)
                               THEN to_hex(max(s.h3)) END,
            'features', coalesce(json_agg(json_build_object(
                'type', 'Feature',
                'id', to_hex(s.h3),
                'geometry', ST_AsGeoJSON(s.geom, 6)::json,
                'properties', json_build_object(
                    'h3', to_hex(s.h3), 'beat', s.beat, 'grid', s.grid,
                    'visited', s.visited,
                    'fixes', s.fixes,
                    'last_visit', s.last_visit,
                    'hours_since_visit',
                        round((extract(epoch FROM period_to - s.last_visit) / 3600.0)::numeric, 1))
            ) ORDER BY s.h3), '[]')
        )
        FROM shown s
    );
END;
$$;
COMMENT ON FUNCTION patrol_cells(text, timestamptz, timestamptz, text, boolean, bigint, int)
    IS 'The H3 res 10 cells of a beat (all beats when NULL) as GeoJSON hexagons: visited or not in [period_from, period_to), fixes, last visit, hours since; a page of at most max_cells (NULL: all) in index order after after_cell, with next_after the key of the next page (NULL on the last).';

-- ---------------------------------------------------------------------------------- cameras

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

-- ------------------------------------------------------------------------------ water safety

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

-- ------------------------------------------------------------------------------------ maps

CREATE OR REPLACE FUNCTION analysis_beat_outlines(
    plan_code text, at timestamptz, tolerance_m double precision DEFAULT 2
)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    pid int := analysis_plan(plan_code, at);
BEGIN
    RETURN (
        SELECT json_build_object(
            'type', 'FeatureCollection',
            'plan', (SELECT p.code FROM beat_plan p WHERE p.id = pid),
            'features', coalesce(json_agg(json_build_object(
                'type', 'Feature',
                'id', o.code,
                'geometry', ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(
                    ST_Transform(o.geom, 4549), tolerance_m), 4326), 6)::json,
                'properties', json_build_object('code', o.code, 'name', o.name)
            ) ORDER BY o.code), '[]'))
        FROM beat_outline o
        WHERE o.plan_id = pid
    );
END;
$$;
COMMENT ON FUNCTION analysis_beat_outlines(text, timestamptz, double precision)
    IS 'Beat outlines of a plan (named, or in force at a moment), simplified by tolerance_m metres, as GeoJSON for the analysis maps.';
