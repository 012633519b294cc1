-- Who sees and changes what, enforced in PostgreSQL for the service's role geo_service_app (made
-- by migration 012: it logs in, owns nothing, has no BYPASSRLS): its grants, and row-level
-- security on every table of the station's data, keyed by the request's context that app_enter
-- sets (15_accounts.sql; helpers in 17_access_rules.sql). Re-applied on every migrate: the
-- grants are made again from nothing, and every policy of these tables is dropped and made
-- again. The owner (the command line) is not bound: it owns the tables. The accounts' own tables
-- and the audit trail are granted in their own files.
--
--   scope station (leader, command_room, planner, community_officer): every row
--   scope areas, a grid worker (geo.grids): rows of their grids (by grid_id, or meeting one of
--       their grids), their villages, the beats holding their grids, the published plans, the
--       people covering their areas (geo.own_people) and those people's assignments there
--   scope areas, a volunteer (no grids; geo.villages): their villages and what meets them of
--       water bodies, water markers, the station outline, roads and places; nothing else
--   scope none (auditor, admin), and no user at all: no row
--   writes: planner and leader (imports); the H3 cell cache (grid_cell, grid_cell_state) also
--       any station role, since whichever request finds it stale refreshes it
--
-- A policy is evaluated per row, inside every plan that reads the table. The station test comes
-- first (app_sees_all: one setting compared), so the station's roles pay that per row read and
-- nothing else: the areas arm is never evaluated for them, and the areas arms that look at
-- another table are functions, called only for users in areas scope. On the tables of many rows
-- (incidents, position fixes, cells) both tests are read once per statement instead.

-- PostGIS's spatial predicates are not marked LEAKPROOF, and PostgreSQL uses no index for a
-- condition that is not leakproof on a table with row-level security: every lookup, tile and
-- bbox query would scan its whole table. These functions raise errors only for mixed SRIDs and
-- invalid geometries (stored geometry is typed EPSG:4326 and checked valid), and the service's
-- role runs only this project's SQL, so they are marked LEAKPROOF. That takes a superuser; an
-- owner that is not one gets a warning (the answers stay right, only slower).
DO $$
DECLARE
    fn regprocedure;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE WARNING 'PostGIS predicates are not marked LEAKPROOF (that takes a superuser): '
            'under row-level security the service''s spatial queries cannot use their indexes. '
            'Run the migration once as a superuser.';
        RETURN;
    END IF;
    FOREACH fn IN ARRAY ARRAY[
        'geometry_overlaps(geometry, geometry)',                -- &&
        'st_intersects(geometry, geometry)',
        'st_dwithin(geometry, geometry, double precision)',
        'geometry_distance_centroid(geometry, geometry)'       -- <-> (nearest first)
    ]::regprocedure[] LOOP
        IF NOT (SELECT proleakproof FROM pg_proc WHERE oid = fn) THEN
            EXECUTE format('ALTER FUNCTION %s LEAKPROOF', fn);
        END IF;
    END LOOP;
END;
$$;

DO $$
DECLARE
    r record;
    p record;
    -- A grid worker's rows of the event and cell tables, by grid; the grids are read once per
    -- statement (a sub-select: an InitPlan), as the tables are read whole by the maps.
    EVENTS CONSTANT text := 'grid_id = ANY ((SELECT app_grids())::int[])';
    station_test text;
    areas_test text;
BEGIN
    REVOKE ALL ON schema_migrations FROM geo_service_app;
    GRANT USAGE ON SCHEMA public TO geo_service_app;

    -- Per table: what writers may do beyond SELECT, who writes, what a user in areas scope sees
    -- (NULL: nothing), and whether the scope is read once per statement (tables of many rows)
    -- rather than per row (the lookup's tables: an InitPlan costs each statement more than a
    -- handful of rows' comparisons do).
    FOR r IN SELECT * FROM (VALUES
        ('station', 'INSERT, UPDATE, DELETE', 'app_writer()', 'app_sees_station(id)', false),
        ('village', 'INSERT, UPDATE, DELETE', 'app_writer()', 'id = ANY (app_villages())', false),
        ('grid', 'INSERT, UPDATE, DELETE', 'app_writer()', 'id = ANY (app_grids())', false),
        ('beat_plan', 'INSERT, UPDATE, DELETE', 'app_writer()',
         $q$status = 'published' AND cardinality(app_grids()) > 0$q$, false),
        ('beat', 'INSERT, UPDATE, DELETE', 'app_writer()', 'app_sees_beat(id)', false),
        ('beat_grid', 'INSERT, UPDATE, DELETE', 'app_writer()', 'grid_id = ANY (app_grids())',
         false),
        ('person', 'INSERT, UPDATE, DELETE', 'app_writer()',
         'cardinality(app_grids()) > 0 AND id = ANY (app_own_people())', false),
        ('assignment', 'INSERT, UPDATE, DELETE', 'app_writer()',
         'cardinality(app_grids()) > 0 AND person_id = ANY (app_own_people())
          AND (grid_id = ANY (app_grids()) OR village_id = ANY (app_villages())
               OR station_id IS NOT NULL OR app_sees_beat(beat_id))', false),
        ('water_body', 'INSERT, UPDATE, DELETE', 'app_writer()', 'app_sees_shape(geom, false)',
         false),
        ('water_body_piece', 'INSERT, UPDATE, DELETE', 'app_writer()',
         'app_sees_water_body(water_body_id)', false),
        ('water_marker', 'INSERT, UPDATE, DELETE', 'app_writer()', 'app_sees_shape(geom, false)',
         false),
        ('rental_house', 'INSERT, UPDATE, DELETE', 'app_writer()', 'app_sees_shape(geom, true)',
         false),
        ('camera', 'INSERT, UPDATE, DELETE', 'app_writer()', 'app_sees_shape(geom, true)', false),
        ('place', 'INSERT, UPDATE, DELETE', 'app_writer()', 'app_sees_shape(geom, false)', false),
        ('road', 'INSERT, UPDATE, DELETE', 'app_writer()', 'app_sees_shape(geom, false)', false),
        ('incident', 'INSERT, UPDATE, DELETE', 'app_writer()', EVENTS, true),
        ('position_fix', 'INSERT, UPDATE, DELETE', 'app_writer()', EVENTS, true),
        ('incident_staging', 'INSERT, UPDATE, DELETE, TRUNCATE', 'app_writer()', NULL, false),
        ('position_fix_staging', 'INSERT, UPDATE, DELETE, TRUNCATE', 'app_writer()', NULL, false),
        ('import_run', 'INSERT', 'app_writer()', NULL, false),
        ('basemap_version', 'UPDATE', 'app_writer()', 'true', false),
        ('grid_cell', 'INSERT, UPDATE, DELETE', $q$app_scope() = 'station'$q$, EVENTS, true),
        ('grid_cell_state', 'UPDATE', $q$app_scope() = 'station'$q$, 'true', false)
    ) AS rule (tab, writes, writer, areas, per_statement) LOOP
        EXECUTE format('REVOKE ALL ON %I FROM geo_service_app', r.tab);
        EXECUTE format('GRANT SELECT, %s ON %I TO geo_service_app', r.writes, r.tab);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', r.tab);
        FOR p IN SELECT policyname FROM pg_policies
                 WHERE schemaname = 'public' AND tablename = r.tab LOOP
            EXECUTE format('DROP POLICY %I ON %I', p.policyname, r.tab);
        END LOOP;
        IF r.per_statement THEN  -- the same tests, on values read once
            station_test := '(SELECT nullif(app_sees_all(), false)) IS NOT NULL';
            areas_test := '(SELECT app_scope() = ''areas'')';
        ELSE
            station_test := 'app_sees_all()';
            areas_test := 'app_scope() = ''areas''';
        END IF;
        EXECUTE format(
            'CREATE POLICY %I ON %I FOR SELECT TO geo_service_app USING (%s OR %s AND (%s))',
            r.tab || '_read', r.tab, station_test, areas_test, coalesce(r.areas, 'false'));
        IF r.writes LIKE '%INSERT%' THEN
            EXECUTE format(
                'CREATE POLICY %I ON %I FOR INSERT TO geo_service_app WITH CHECK (%s)',
                r.tab || '_insert', r.tab, r.writer);
        END IF;
        IF r.writes LIKE '%UPDATE%' THEN
            EXECUTE format(
                'CREATE POLICY %I ON %I FOR UPDATE TO geo_service_app USING (%s) WITH CHECK (%s)',
                r.tab || '_update', r.tab, r.writer, r.writer);
        END IF;
        IF r.writes LIKE '%DELETE%' THEN
            EXECUTE format(
                'CREATE POLICY %I ON %I FOR DELETE TO geo_service_app USING (%s)',
                r.tab || '_delete', r.tab, r.writer);
        END IF;
        -- the serial ids of the table
        FOR p IN SELECT s.oid::regclass AS seq FROM pg_class s
                 JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'a'
                 WHERE s.relkind = 'S' AND d.refobjid = r.tab::regclass LOOP
            EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO geo_service_app', p.seq);
        END LOOP;
    END LOOP;

    -- Views run with the rights of whoever asks (security_invoker), not their owner's: a view
    -- owned by the tables' owner would read past every policy.
    FOR r IN
        SELECT c.oid::regclass AS v FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'
          AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER VIEW %s SET (security_invoker = true)', r.v);
        EXECUTE format('GRANT SELECT ON %s TO geo_service_app', r.v);
    END LOOP;

    -- Functions run with the rights of whoever calls them, so their queries meet the same
    -- policies. Those whose rights were set where they are made (SECURITY DEFINER ones, the
    -- audit trail's, app_enter: a non-default ACL) are left as they were set there.
    FOR r IN
        SELECT fn.oid::regprocedure AS f FROM pg_proc fn
        WHERE fn.pronamespace = 'public'::regnamespace AND fn.prokind = 'f' AND NOT fn.prosecdef
          AND fn.proacl IS NULL
          AND fn.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = fn.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO geo_service_app', r.f);
    END LOOP;
END;
$$;
GRANT EXECUTE ON FUNCTION app_grid_at(geometry) TO geo_service_app;
