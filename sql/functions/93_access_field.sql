-- Row-level security for the field's tables (migration 018), with app_protect of 90_access.sql.
-- The service's role reads them, and writes them only through the SECURITY DEFINER functions of
-- 78_field.sql and 79_reports.sql, which check the user's areas; planners and leaders (the
-- writers, station scope) may also append their history by an import, as they import any layer.
--
--   station scope: every row
--   a grid worker or volunteer: the inspections (and photos) of the things they see, the sweeps
--       and targets of their grids, the reports they made themselves
--   a department user (areas scope, no grid, no village): the reports routed to their department
--       (geo.department), their steps and photos; of the rest only departments and categories
--   departments and report categories: every signed-in user (they are the choices of a form)
--
-- No policy here reads a table whose policy reads back (inspection reads the things' tables,
-- inspection_photo reads inspection, sweep reads sweep_grid): no recursion.

-- Whether the user sees a thing by its own table's policy (water marker, rental house, camera,
-- water body). Called only for users in areas scope (the station test comes first).
CREATE OR REPLACE FUNCTION field_sees_thing(kind text, thing_id int) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN CASE kind
        WHEN 'water_marker' THEN EXISTS (SELECT 1 FROM water_marker t WHERE t.id = thing_id)
        WHEN 'rental_house' THEN EXISTS (SELECT 1 FROM rental_house t WHERE t.id = thing_id)
        WHEN 'camera' THEN EXISTS (SELECT 1 FROM camera t WHERE t.id = thing_id)
        WHEN 'water_body' THEN EXISTS (SELECT 1 FROM water_body t WHERE t.id = thing_id)
        ELSE false END;
END;
$$;
COMMENT ON FUNCTION field_sees_thing(text, int)
    IS 'Whether the signed-in user sees a water marker, rental house, camera or water body (by that table''s policy): then its inspections too.';

-- Whether a sweep covers one of the user's grids (read as the owner: no policy is met twice).
CREATE OR REPLACE FUNCTION field_sweep_in_grids(sweep_id int) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM sweep_grid s
                   WHERE s.sweep_id = field_sweep_in_grids.sweep_id
                     AND s.grid_id = ANY (app_grids()));
END;
$$;
COMMENT ON FUNCTION field_sweep_in_grids(int)
    IS 'Whether a sweep covers one of the grids of the signed-in user in areas scope.';
REVOKE ALL ON FUNCTION field_sweep_in_grids(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION field_sweep_in_grids(int) TO geo_service_app;

DO $$
BEGIN
    CALL app_protect('inspection', 'INSERT', 'app_writer()',
                     'field_sees_thing(kind, thing_id)', false);
    CALL app_protect('inspection_photo', 'REFERENCES', 'false',
                     'inspection_id IN (SELECT id FROM inspection)', false);
    CALL app_protect('patrol_water', 'INSERT, UPDATE (unmarked_at)', 'app_writer()',
                     'app_sees_water_body(water_body_id)', false);
    CALL app_protect('sweep', 'INSERT', 'app_writer()', 'field_sweep_in_grids(id)', false);
    CALL app_protect('sweep_grid', 'INSERT', 'app_writer()', 'grid_id = ANY (app_grids())',
                     false);
    CALL app_protect('sweep_target', 'INSERT', 'app_writer()', 'grid_id = ANY (app_grids())',
                     false);
    CALL app_protect('department', 'REFERENCES', 'false', 'true', false);
    CALL app_protect('report_category', 'REFERENCES', 'false', 'true', false);
    CALL app_protect('report', 'INSERT', 'app_writer()',
                     'field_sees_report(reporter, department_id)', false);
    CALL app_protect('report_step', 'INSERT', 'app_writer()',
                     'report_id IN (SELECT id FROM report)', false);
    CALL app_protect('report_photo', 'REFERENCES', 'false',
                     'report_id IN (SELECT id FROM report)', false);
END;
$$;
