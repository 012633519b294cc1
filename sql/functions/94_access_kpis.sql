-- Row-level security for the station's numbers (migration 019, 74_kpis.sql), with app_protect
-- of 90_access.sql: incident_kpi is read as incident is (the station's roles every row, a grid
-- worker the rows of their grids, volunteers none), so station_kpis, run as the caller, counts
-- what the caller may see of incidents. Only its triggers write it (as its owner). The repeat
-- radius the stored gaps use is read by every user with a scope (none without one).

DO $$
BEGIN
    CALL app_protect('incident_kpi', 'REFERENCES', 'false',
                     'grid_id = ANY ((SELECT app_grids())::int[])', true);
    CALL app_protect('incident_kpi_rule', 'REFERENCES', 'false', 'true', false);
END;
$$;
