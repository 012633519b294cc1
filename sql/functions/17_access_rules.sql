-- The access rules' own helpers, on top of the request's context (15_accounts.sql): what the
-- policies of 90_access.sql, the phone masking and the lookup's refusal read. Every helper reads
-- transaction-local settings only; with none set (no signed-in user) they grant nothing.
--
-- The one-expression helpers are plain SQL, so PostgreSQL inlines them where they are used (a
-- policy's expression is evaluated per row: no function call per row for the station's roles).

-- The operator: the database owner's own connection with no user (the command line: loading,
-- exports, backups, migrations). It bypasses row-level security as the tables' owner, and its
-- answers are not masked. The service's role with no user is never the operator.
CREATE OR REPLACE FUNCTION app_operator() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT app_role() IS NULL AND current_user <> 'geo_service_app'
$$;
COMMENT ON FUNCTION app_operator()
    IS 'True for the owner''s own work with no signed-in user (command line, exports, backups): sees everything, nothing masked.';

-- The station test every policy makes first, per row: one setting compared. Written as a NULL
-- test, which the planner counts as letting about every row through (99.5 %), so the station's
-- roles get the plans the owner gets; "scope = 'station'" would count as 0.5 % and turn hash
-- joins into nested loops that read a table once per row of the other.
CREATE OR REPLACE FUNCTION app_sees_all() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN current_setting('geo.scope', true) = 'station' THEN true END) IS NOT NULL
$$;
COMMENT ON FUNCTION app_sees_all()
    IS 'Whether the user of this transaction sees the whole station (scope station): the first, cheap test of every row-level security policy.';

-- Writes (imports over HTTP; the writes of the next issues) are for planners and leaders.
CREATE OR REPLACE FUNCTION app_writer() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(app_role() IN ('planner', 'leader'), false)
$$;
COMMENT ON FUNCTION app_writer()
    IS 'Whether the user of this transaction may write the station''s data (imports): planner and leader.';

-- Who takes calls and sends units (issue 12): the command room and the station's leaders.
CREATE OR REPLACE FUNCTION app_dispatcher() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(app_role() IN ('command_room', 'leader'), false)
$$;
COMMENT ON FUNCTION app_dispatcher()
    IS 'Whether the user of this transaction takes calls and sends units: command room and leader.';

-- The user's own grids: a grid worker's grids, a community officer's beats' grids in the plan in
-- force (geo.own_grids, set by app_enter; without it, the grids of geo.grids).
CREATE OR REPLACE FUNCTION app_own_grids() RETURNS int[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('geo.own_grids', true), ''),
                    nullif(current_setting('geo.grids', true), ''), '{}')::int[]
$$;
COMMENT ON FUNCTION app_own_grids()
    IS 'Ids of the user''s own grids (grid worker: their grids; community officer: their beats'' grids in the plan in force): a landlord''s phone there is shown in full.';

-- A rental house's landlord phone by the people's rule (app_phone): full for leader and command
-- room and in the user's own grids, else masked; full for the operator.
CREATE OR REPLACE FUNCTION app_landlord_phone(house geometry, phone text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN phone IS NULL THEN NULL
        WHEN app_role() IN ('leader', 'command_room') OR app_operator() THEN phone
        WHEN cardinality(app_own_grids()) > 0
             AND EXISTS (SELECT 1 FROM grid g
                         WHERE g.id = ANY (app_own_grids()) AND ST_Intersects(g.geom, house))
            THEN phone
        ELSE app_mask_phone(phone) END
$$;
COMMENT ON FUNCTION app_landlord_phone(geometry, text)
    IS 'A rental house''s landlord phone as this user may see it: full for leader, command_room and houses in the user''s own grids (app_own_grids), else masked as 138****5678.';

-- A 110 caller's details (issue 12), the one rule for every place that shows them (the desk's
-- answers, the incident layer's exports and OGC items): the station's police (leader, command
-- room, planner, community officer) see the caller's address and words, and the phone in full
-- for the command room and leaders only, masked for the others (never in full by the
-- people's rule: a caller is nobody's own person). Who is not police (a grid worker reading
-- their grids' incidents) sees no caller details at all.
CREATE OR REPLACE FUNCTION app_sees_callers() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT app_operator()
        OR coalesce(app_role() IN ('leader', 'command_room', 'planner', 'community_officer'),
                    false)
$$;
COMMENT ON FUNCTION app_sees_callers()
    IS 'Whether the user of this transaction sees a 110 caller''s details (address, description, phone at least masked): the station''s police roles and the operator; not a grid worker.';

CREATE OR REPLACE FUNCTION app_caller_phone(phone text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN phone IS NULL OR NOT app_sees_callers() THEN NULL
        WHEN app_role() IN ('command_room', 'leader') OR app_operator() THEN phone
        ELSE app_mask_phone(phone) END
$$;
COMMENT ON FUNCTION app_caller_phone(text)
    IS 'A 110 caller''s phone as this user may see it: full for command_room, leader and the operator, masked (138****5678) for the other police roles, NULL for the rest (app_sees_callers).';

CREATE OR REPLACE FUNCTION app_caller_detail(detail text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN app_sees_callers() THEN detail END
$$;
COMMENT ON FUNCTION app_caller_detail(text)
    IS 'A 110 caller''s address or description as this user may see it: as stored for the police roles and the operator, NULL for the rest (app_sees_callers).';

-- The row tests of users in areas scope that need a look at another table. The policies call
-- them only when the user is not in station scope (the station test comes first), so they cost
-- the station's roles nothing. PL/pgSQL, so that their queries are planned once per connection
-- (a SQL function that cannot be inlined is planned again in every statement that calls it),
-- and with generic plans forced: by default PL/pgSQL makes a custom plan for the values of
-- each call and keeps doing so when the generic plan's estimate looks dearer, which here cost
-- about 0.3 ms of planning per row read (a grid worker's 64 rental houses: 19 ms; 2.5 ms so).

-- Whether a shape meets the user's grids (grid worker) or, with grids_only false and no grids,
-- their villages (volunteer). The grids and villages are read under their own policies.
CREATE OR REPLACE FUNCTION app_sees_shape(shape geometry, grids_only boolean) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    -- One area at a time, by its primary key: a user has a handful of areas, while the box of a
    -- long river holds thousands of grids, which a search by outline would read (a grid worker's
    -- test of one river: 11,000 grids, 50 ms). Under the grid's and village's own policies the
    -- ids must be values for an index to take them (app_grids() reads a setting: not leakproof).
    area_id int;
BEGIN
    IF cardinality(app_grids()) > 0 THEN
        FOREACH area_id IN ARRAY app_grids() LOOP
            IF EXISTS (SELECT 1 FROM grid g WHERE g.id = area_id AND ST_Intersects(g.geom, shape))
            THEN
                RETURN true;
            END IF;
        END LOOP;
        RETURN false;
    END IF;
    IF NOT grids_only THEN
        FOREACH area_id IN ARRAY app_villages() LOOP
            IF EXISTS (SELECT 1 FROM village v
                       WHERE v.id = area_id AND ST_Intersects(v.geom, shape)) THEN
                RETURN true;
            END IF;
        END LOOP;
    END IF;
    RETURN false;
END;
$$;
COMMENT ON FUNCTION app_sees_shape(geometry, boolean)
    IS 'Whether a shape meets one of the grids of a user in areas scope (grid worker) or, unless grids_only, with no grids, one of their villages (volunteer).';

CREATE OR REPLACE FUNCTION app_sees_beat(beat_id int) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM beat_grid bg
                   WHERE bg.beat_id = app_sees_beat.beat_id AND bg.grid_id = ANY (app_grids()));
END;
$$;
COMMENT ON FUNCTION app_sees_beat(int)
    IS 'Whether a beat (of any plan) holds one of the grids of a user in areas scope.';

CREATE OR REPLACE FUNCTION app_sees_water_body(water_body_id int) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM water_body w WHERE w.id = app_sees_water_body.water_body_id);
END;
$$;
COMMENT ON FUNCTION app_sees_water_body(int)
    IS 'Whether the user sees a water body (by its own policy): its pieces are seen with it.';

CREATE OR REPLACE FUNCTION app_sees_station(station_id int) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM village v WHERE v.station_id = app_sees_station.station_id);
END;
$$;
COMMENT ON FUNCTION app_sees_station(int)
    IS 'Whether the user sees one of a station''s villages (by its policy): then its outline too.';

-- The grid a point belongs to by the boundary rule among all grids, whoever asks: a grid worker
-- sees only their grids, so a point on their border with a lower-coded neighbour would look
-- like theirs. Answers an id only (no outline, no name).
CREATE OR REPLACE FUNCTION app_grid_at(p geometry) RETURNS int
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN (SELECT g.id FROM grid_at(p) g);
END;
$$;
COMMENT ON FUNCTION app_grid_at(geometry)
    IS 'Id of the grid a point belongs to by the boundary rule among all grids (read as the owner, whatever the user sees): whether a point is in a user''s own areas.';
REVOKE ALL ON FUNCTION app_grid_at(geometry) FROM PUBLIC;

-- The areas a user covers, for refusals: 'grid 330...001 (name), ...'.
CREATE OR REPLACE FUNCTION app_areas_text() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        (SELECT string_agg(format('grid %s (%s)', g.code, g.name), ', ' ORDER BY g.code)
         FROM grid g WHERE g.id = ANY (app_grids())),
        (SELECT string_agg(format('village %s (%s)', v.code, v.name), ', ' ORDER BY v.code)
         FROM village v WHERE v.id = ANY (app_villages())),
        'no areas')
$$;
COMMENT ON FUNCTION app_areas_text()
    IS 'The areas a user in areas scope covers as text for refusals: their grids with code and name, else their villages; ''no areas'' when none.';

-- A question about a point from a user who does not see the whole station: the point must lie
-- in one of their grids (by the boundary rule among all grids), else insufficient_privilege
-- with HINT areas (a 403 naming their areas). Nothing for the station's roles and the operator.
CREATE OR REPLACE FUNCTION app_require_point(p geometry) RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF app_scope() = 'station' OR app_operator() THEN
        RETURN;
    END IF;
    IF app_scope() = 'areas' AND app_grid_at(p) = ANY (app_grids()) THEN
        RETURN;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', HINT = 'areas',
        MESSAGE = format('The point (%s, %s) is outside your areas: %s',
                         round(ST_X(p)::numeric, 6), round(ST_Y(p)::numeric, 6),
                         app_areas_text());
END;
$$;
COMMENT ON FUNCTION app_require_point(geometry)
    IS 'Refuses (insufficient_privilege, HINT areas, naming the user''s areas) a point that is not in one of the grids of a user in areas or no scope; passes for station scope and the operator.';
