-- Which area a point is in, and which beat plan is in force: the building blocks of every
-- "who covers this point" answer.
--
-- Boundary rule: a point on a shared edge or vertex belongs to the grid with the lowest code
-- among the grids whose closed outline contains it; its village and beat are that grid's.
-- Grid codes start with their village's code, so the same rule picks the lowest-coded village.

-- plan_at and grid_at hold the two rules as set-returning SQL functions: PostgreSQL inlines
-- them into the calling statement, so a plpgsql caller (lookup_point) keeps one cached plan
-- for the whole query. A scalar SQL function is planned again on every call (about 40 us).
CREATE OR REPLACE FUNCTION plan_at(at timestamptz)
RETURNS SETOF beat_plan
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1 AS $$
    SELECT * FROM beat_plan
    WHERE status = 'published' AND effective_from <= at
    ORDER BY effective_from DESC
    LIMIT 1
$$;
COMMENT ON FUNCTION plan_at(timestamptz)
    IS 'The published beat plan in force at a moment (latest effective_from at or before it); no row if none.';

CREATE OR REPLACE FUNCTION plan_in_force(at timestamptz)
RETURNS int
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id FROM plan_at(at)
$$;
COMMENT ON FUNCTION plan_in_force(timestamptz)
    IS 'Id of the published beat plan in force at a moment (latest effective_from at or before it), or NULL.';

CREATE OR REPLACE FUNCTION grid_at(p geometry)
RETURNS SETOF grid
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1 AS $$
    SELECT * FROM grid
    WHERE ST_Intersects(geom, p)
    ORDER BY code
    LIMIT 1
$$;
COMMENT ON FUNCTION grid_at(geometry)
    IS 'The grid a point (EPSG:4326) belongs to: the lowest-coded grid whose closed outline contains it; no row outside.';

CREATE OR REPLACE FUNCTION grid_at_point(p geometry)
RETURNS int
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id FROM grid_at(p)
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

-- The areas of a point at a moment: its grid by the boundary rule, that grid's village, and
-- its beat in the plan in force then.
CREATE OR REPLACE FUNCTION areas_at(p geometry, at timestamptz)
RETURNS TABLE (village_id int, grid_id int, beat_id int)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT g.village_id, g.id,
           (SELECT bg.beat_id FROM beat_grid bg
            WHERE bg.grid_id = g.id AND bg.plan_id = plan_in_force(at))
    FROM grid g
    WHERE g.id = grid_at_point(p)
$$;
COMMENT ON FUNCTION areas_at(geometry, timestamptz)
    IS 'Village, grid and beat ids of a point at a moment (beat of the plan in force then); no row outside the jurisdiction.';

-- Events are stored through staging tables (migration 004): a writer copies raw rows into
-- incident_staging / position_fix_staging, then one call moves them into place, stamped once
-- with their areas at the event's own time.
CREATE OR REPLACE FUNCTION store_staged_incidents()
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    moved bigint;
BEGIN
    -- history, not news: the command room's log (70_command.sql) skips rows stored in bulk
    PERFORM set_config('geo.bulk_load', 'on', true);
    INSERT INTO incident (call_no, received_at, category, status, geom,
                          village_id, grid_id, beat_id, h3, h3_r9, h3_r8, h3_r7, caller_phone,
                          address, description)
    SELECT s.call_no, s.received_at, s.category, s.status, s.geom,
           a.village_id, a.grid_id, a.beat_id, s.h3, s.h3_r9, s.h3_r8, s.h3_r7, s.caller_phone,
           s.address, s.description
    FROM incident_staging s
    LEFT JOIN LATERAL areas_at(s.geom, s.received_at) a ON true;
    GET DIAGNOSTICS moved = ROW_COUNT;
    PERFORM set_config('geo.bulk_load', 'off', true);
    RETURN moved;
END;
$$;
COMMENT ON FUNCTION store_staged_incidents()
    IS 'Moves incident_staging rows (with their H3 cells at resolutions 7..10, computed by the writer, and the caller''s phone, address and description when the file has them) into incident, stamped with village, grid and beat (plan in force at received_at); returns the count.';

CREATE OR REPLACE FUNCTION store_staged_position_fixes()
RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    WITH moved AS (
        INSERT INTO position_fix (person_id, recorded_at, geom, village_id, grid_id, beat_id, h3)
        SELECT s.person_id, s.recorded_at, s.geom, a.village_id, a.grid_id, a.beat_id, s.h3
        FROM position_fix_staging s
        LEFT JOIN LATERAL areas_at(s.geom, s.recorded_at) a ON true
        ORDER BY s.ord
        RETURNING 1
    )
    SELECT count(*) FROM moved
$$;
COMMENT ON FUNCTION store_staged_position_fixes()
    IS 'Moves position_fix_staging rows into position_fix, stamped like incidents; returns the count.';

CREATE OR REPLACE FUNCTION stations_loaded() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(*) FROM station
$$;
COMMENT ON FUNCTION stations_loaded()
    IS 'How many stations are loaded, for /healthz (asked with no signed-in user, so it reads as the owner: a count, nothing else).';
