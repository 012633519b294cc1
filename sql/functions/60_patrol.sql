-- Patrol coverage for the planners' map: the H3 cells of each beat a patrol passed through in a
-- period. Also the plan and beat a question names (analysis_plan, analysis_beat) and the beat
-- outlines the analysis maps draw, which 61_cameras.sql uses too. Metric work in EPSG:4549.
--
-- Refusals say which request parameter to fix in HINT, and Python maps them by SQL state
-- (geo_service/db.py translate): an unknown plan or beat raises no_data_found (P0002, a 404),
-- a period that runs backwards invalid_parameter_value (22023, a 422).

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
            RAISE EXCEPTION USING ERRCODE = 'no_data_found', HINT = 'plan',
                MESSAGE = format('No published beat plan is in force at %s; name a plan.', at);
        END IF;
    ELSE
        SELECT id INTO pid FROM beat_plan WHERE code = plan_code;
        IF pid IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'no_data_found', HINT = 'plan',
                MESSAGE = format('There is no beat plan with code ''%s''.', plan_code);
        END IF;
    END IF;
    RETURN pid;
END;
$$;
COMMENT ON FUNCTION analysis_plan(text, timestamptz)
    IS 'Id of the beat plan named by code, or of the plan in force at a moment when no code is given; raises no_data_found with HINT plan when there is none.';

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
        RAISE EXCEPTION USING ERRCODE = 'no_data_found', HINT = 'beat',
            MESSAGE = format('There is no beat ''%s'' in plan %s.', beat_code,
                             (SELECT code FROM beat_plan p WHERE p.id = analysis_beat.plan_id));
    END IF;
    RETURN bid;
END;
$$;
COMMENT ON FUNCTION analysis_beat(int, text)
    IS 'Id of the beat with a code in a plan (NULL for no code); raises no_data_found with HINT beat when the plan has no such beat.';

-- ------------------------------------------------------------------------------ patrol coverage

-- The period a coverage question is about: [period_from, period_to). Without an end, the end of
-- the station day (UTC+8) of the latest position fix (now when there is none); without a start,
-- 30 days before the end.
CREATE OR REPLACE FUNCTION patrol_period(
    INOUT period_from timestamptz, INOUT period_to timestamptz
)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    -- the bound to fix: the end when it was given, else the start that lies past the default end
    wrong text := CASE WHEN period_to IS NULL THEN 'from' ELSE 'to' END;
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
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', HINT = wrong,
            MESSAGE = format('The period ends (%s) before it starts (%s).', period_to, period_from);
    END IF;
END;
$$;
COMMENT ON FUNCTION patrol_period(timestamptz, timestamptz)
    IS 'A patrol period with defaults filled in: the end of the day of the latest position fix, and 30 days before the end; invalid_parameter_value (HINT from or to) when it runs backwards.';
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

-- ------------------------------------------------------------------------ outlines for the maps

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

CREATE OR REPLACE FUNCTION store_grid_cells(cells bigint[], centres geometry[], shapes geometry[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    stored bigint;
BEGIN
    -- any signed-in user of the station's data may find the cache stale and refresh it; the
    -- boundary rule must see every grid, whoever asks: so this runs as the owner
    IF app_scope() = 'none' AND session_user = 'geo_service_app' THEN
        RAISE EXCEPTION 'only a user of the station''s data refreshes the cell cache'
            USING ERRCODE = 'insufficient_privilege', HINT = 'areas';
    END IF;
    DELETE FROM grid_cell;
    INSERT INTO grid_cell (h3, grid_id, centre, geom)
    SELECT c.h3, c.grid_id, c.centre, c.geom
    FROM (SELECT u.h3, grid_at_point(u.centre) AS grid_id, u.centre, u.geom
          FROM unnest(cells, centres, shapes) AS u (h3, centre, geom)) c
    WHERE c.grid_id IS NOT NULL;
    GET DIAGNOSTICS stored = ROW_COUNT;
    UPDATE grid_cell_state SET fresh = true, refreshed_at = now();
    RETURN stored;
END;
$$;
COMMENT ON FUNCTION store_grid_cells(bigint[], geometry[], geometry[])
    IS 'Replace the cached H3 cells (grid_cell) by the candidates kept for the grid holding their centre by the boundary rule over every grid; marks the cache fresh; answers how many were stored.';
