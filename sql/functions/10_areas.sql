-- Which area a point is in, and which beat plan is in force: the building blocks of every
-- "who covers this point" answer.
--
-- Boundary rule: a point on a shared edge or vertex belongs to the grid with the lowest code
-- among the grids whose closed outline contains it; its village and beat are that grid's.
-- Grid codes start with their village's code, so the same rule picks the lowest-coded village.

CREATE OR REPLACE FUNCTION plan_in_force(at timestamptz)
RETURNS int
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id FROM beat_plan
    WHERE status = 'published' AND effective_from <= at
    ORDER BY effective_from DESC
    LIMIT 1
$$;
COMMENT ON FUNCTION plan_in_force(timestamptz)
    IS 'Id of the published beat plan in force at a moment (latest effective_from at or before it), or NULL.';

CREATE OR REPLACE FUNCTION plan_periods()
RETURNS TABLE (plan_id int, valid_from timestamptz, valid_to timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, effective_from,
           lead(effective_from) OVER (ORDER BY effective_from)
    FROM beat_plan
    WHERE status = 'published'
$$;
COMMENT ON FUNCTION plan_periods()
    IS 'Each published plan with the half-open period [valid_from, valid_to) in which it is in force.';

CREATE OR REPLACE FUNCTION grid_at_point(p geometry)
RETURNS int
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id FROM grid
    WHERE ST_Intersects(geom, p)
    ORDER BY code
    LIMIT 1
$$;
COMMENT ON FUNCTION grid_at_point(geometry)
    IS 'Id of the grid a point (EPSG:4326) belongs to: the lowest-coded grid whose closed outline contains it.';

CREATE OR REPLACE FUNCTION grids_in_force(at timestamptz)
RETURNS TABLE (grid_code text, village_code text, beat_code text, geom geometry)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT g.code, v.code, b.code, g.geom
    FROM grid g
    JOIN village v ON v.id = g.village_id
    LEFT JOIN beat_grid bg ON bg.grid_id = g.id AND bg.plan_id = plan_in_force(at)
    LEFT JOIN beat b ON b.id = bg.beat_id
    ORDER BY g.code
$$;
COMMENT ON FUNCTION grids_in_force(timestamptz)
    IS 'Every grid in code order with its village code and its beat code in the plan in force at a moment: what a batch assignment needs.';

-- Events are stored through staging tables (migration 004): a writer copies raw rows into
-- incident_staging / position_fix_staging, then one call moves them into place, stamped with
-- their village, grid and beat (of the plan in force at the event's own time).
CREATE OR REPLACE FUNCTION store_staged_incidents()
RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    WITH hit AS (
        SELECT DISTINCT ON (s.call_no) s.call_no, g.id AS grid_id, g.village_id
        FROM incident_staging s JOIN grid g ON ST_Intersects(g.geom, s.geom)
        ORDER BY s.call_no, g.code
    ), moved AS (
        INSERT INTO incident (call_no, received_at, category, status, geom,
                              village_id, grid_id, beat_id, h3)
        SELECT s.call_no, s.received_at, s.category, s.status, s.geom,
               hit.village_id, hit.grid_id, bg.beat_id, s.h3
        FROM incident_staging s
        LEFT JOIN hit ON hit.call_no = s.call_no
        LEFT JOIN plan_periods() pp
               ON s.received_at >= pp.valid_from
              AND (pp.valid_to IS NULL OR s.received_at < pp.valid_to)
        LEFT JOIN beat_grid bg ON bg.grid_id = hit.grid_id AND bg.plan_id = pp.plan_id
        RETURNING 1
    )
    SELECT count(*) FROM moved
$$;
COMMENT ON FUNCTION store_staged_incidents()
    IS 'Moves incident_staging rows into incident, stamped with village, grid and beat (plan in force at received_at); returns the count.';

CREATE OR REPLACE FUNCTION store_staged_position_fixes()
RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    WITH hit AS (
        SELECT DISTINCT ON (s.ord) s.ord, g.id AS grid_id, g.village_id
        FROM position_fix_staging s JOIN grid g ON ST_Intersects(g.geom, s.geom)
        ORDER BY s.ord, g.code
    ), moved AS (
        INSERT INTO position_fix (person_id, recorded_at, geom, village_id, grid_id, beat_id, h3)
        SELECT s.person_id, s.recorded_at, s.geom, hit.village_id, hit.grid_id, bg.beat_id, s.h3
        FROM position_fix_staging s
        LEFT JOIN hit ON hit.ord = s.ord
        LEFT JOIN plan_periods() pp
               ON s.recorded_at >= pp.valid_from
              AND (pp.valid_to IS NULL OR s.recorded_at < pp.valid_to)
        LEFT JOIN beat_grid bg ON bg.grid_id = hit.grid_id AND bg.plan_id = pp.plan_id
        RETURNING 1
    )
    SELECT count(*) FROM moved
$$;
COMMENT ON FUNCTION store_staged_position_fixes()
    IS 'Moves position_fix_staging rows into position_fix, stamped like incidents; returns the count.';
