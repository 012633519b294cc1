-- Row-level security for the command room's tables (migration 015), with app_protect of
-- 90_access.sql: the station's roles read every row, a grid worker the rows of their grids,
-- volunteers none; calls, steps and unit states are written by the command room and leaders
-- (app_dispatcher, 17_access_rules.sql) and by imports (planners and leaders). The event log is
-- written only by its triggers (70_command.sql).

DO $$
DECLARE
    EVENTS CONSTANT text := 'grid_id = ANY ((SELECT app_grids())::int[])';
BEGIN
    CALL app_protect('duty_shift', 'INSERT, UPDATE, DELETE', 'app_writer() OR app_dispatcher()',
                     'cardinality(app_grids()) > 0 AND person_id = ANY (app_own_people())', false);
    CALL app_protect('unit_state', 'INSERT, UPDATE', 'app_writer() OR app_dispatcher()',
                     'grid_id = ANY (app_grids())', false);
    CALL app_protect('incident_step', 'INSERT', 'app_writer() OR app_dispatcher()',
                     'incident_id IN (SELECT id FROM incident)', true);
    CALL app_protect('command_event', 'REFERENCES', 'false', EVENTS, true);
END;
$$;
