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
--   writes: planner and leader (imports), incidents and fixes also the command room; the H3 cell cache (grid_cell, grid_cell_state) also
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

-- Protect one table of the station's data: SELECT plus `writes` granted to the service's role,
-- row-level security on, its policies made again from nothing. `writer` is the condition for
-- writing, `areas` what a user in areas scope reads (NULL: nothing), `per_statement` whether the
-- scope is read once per statement (tables of many rows) rather than per row (the lookup's
-- tables: an InitPlan costs each statement more than a handful of rows' comparisons do). The
-- files after this one (91_…) call it for the tables their issue adds.
CREATE OR REPLACE PROCEDURE app_protect(
    tab text, writes text, writer text, areas text, per_statement boolean
)
LANGUAGE plpgsql AS $proc$
DECLARE
    p record;
    station_test text;
    areas_test text;
BEGIN
    EXECUTE format('REVOKE ALL ON %I FROM geo_service_app', tab);
    EXECUTE format('GRANT SELECT, %s ON %I TO geo_service_app', writes, tab);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tab);
    FOR p IN SELECT policyname FROM pg_policies
             WHERE schemaname = 'public' AND tablename = tab LOOP
        EXECUTE format('DROP POLICY %I ON %I', p.policyname, tab);
    END LOOP;
    IF per_statement THEN  -- the same tests, on values read once
        station_test := '(SELECT nullif(app_sees_all(), false)) IS NOT NULL';
        areas_test := '(SELECT app_scope() = ''areas'')';
    ELSE
        station_test := 'app_sees_all()';
        areas_test := 'app_scope() = ''areas''';
    END IF;
    EXECUTE format(
        'CREATE POLICY %I ON %I FOR SELECT TO geo_service_app USING (%s OR %s AND (%s))',
        tab || '_read', tab, station_test, areas_test, coalesce(areas, 'false'));
    IF writes LIKE '%INSERT%' THEN
        EXECUTE format(
            'CREATE POLICY %I ON %I FOR INSERT TO geo_service_app WITH CHECK (%s)',
            tab || '_insert', tab, writer);
    END IF;
    IF writes LIKE '%UPDATE%' THEN
        EXECUTE format(
            'CREATE POLICY %I ON %I FOR UPDATE TO geo_service_app USING (%s) WITH CHECK (%s)',
            tab || '_update', tab, writer, writer);
    END IF;
    IF writes LIKE '%DELETE%' THEN
        EXECUTE format(
            'CREATE POLICY %I ON %I FOR DELETE TO geo_service_app USING (%s)',
            tab || '_delete', tab, writer);
    END IF;
    -- the serial ids of the table
    FOR p IN SELECT s.oid::regclass AS seq FROM pg_class s
             JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'a'
             WHERE s.relkind = 'S' AND d.refobjid = tab::regclass LOOP
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO geo_service_app', p.seq);
    END LOOP;
END;
$proc$;
REVOKE EXECUTE ON PROCEDURE app_protect(text, text, text, text, boolean) FROM PUBLIC;

DO $$
DECLARE
    r record;
    -- A grid worker's rows of the event and cell tables, by grid; the grids are read once per
    -- statement (a sub-select: an InitPlan), as the tables are read whole by the maps.
    EVENTS CONSTANT text := 'grid_id = ANY ((SELECT app_grids())::int[])';
BEGIN
    REVOKE ALL ON schema_migrations FROM geo_service_app;
    GRANT USAGE ON SCHEMA public TO geo_service_app;

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
        ('incident', 'INSERT, UPDATE, DELETE', 'app_writer() OR app_dispatcher()', EVENTS,
         true),
        ('position_fix', 'INSERT, UPDATE, DELETE', 'app_writer() OR app_dispatcher()',
         EVENTS, true),
        ('incident_staging', 'INSERT, UPDATE, DELETE, TRUNCATE', 'app_writer()', NULL, false),
        ('position_fix_staging', 'INSERT, UPDATE, DELETE, TRUNCATE', 'app_writer()', NULL, false),
        ('import_run', 'INSERT', 'app_writer()', NULL, false),
        ('basemap_version', 'UPDATE', 'app_writer()', 'true', false),
        ('grid_cell', 'INSERT, UPDATE, DELETE', $q$app_scope() = 'station'$q$, EVENTS, true),
        ('grid_cell_state', 'UPDATE', $q$app_scope() = 'station'$q$, 'true', false)
    ) AS rule (tab, writes, writer, areas, per_statement) LOOP
        CALL app_protect(r.tab, r.writes, r.writer, r.areas, r.per_statement);
    END LOOP;
END;
$$;
GRANT EXECUTE ON FUNCTION app_grid_at(geometry) TO geo_service_app;
