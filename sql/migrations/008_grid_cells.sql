-- The H3 cells (resolution 10, edge about 66 m) of each grid, for patrol coverage. There is no
-- h3 extension for PostgreSQL on Debian, so the cells are computed in Python (h3-py, see
-- geo_service/services/patrol.py refresh_grid_cells) and cached here. A cell belongs to the grid
-- that contains its centre by the boundary rule (grid_at_point); a beat's cells are its grids'
-- cells in a plan, so a new or changed beat plan needs no refresh. Any change to the grids marks
-- the cache stale (trigger below); the next coverage request refreshes it.

CREATE TABLE grid_cell (
    h3          bigint PRIMARY KEY,
    grid_id     int NOT NULL REFERENCES grid (id) ON DELETE CASCADE,
    centre      geometry(Point, 4326) NOT NULL,
    geom        geometry(Polygon, 4326) NOT NULL
);
CREATE INDEX grid_cell_grid_idx ON grid_cell (grid_id);

-- One row: whether grid_cell matches the grids as they are now.
CREATE TABLE grid_cell_state (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    fresh           boolean NOT NULL,
    refreshed_at    timestamptz
);
INSERT INTO grid_cell_state (fresh) VALUES (false);

CREATE FUNCTION grid_cells_mark_stale()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE grid_cell_state SET fresh = false WHERE fresh;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION grid_cells_mark_stale()
    IS 'Trigger: any change to the grids marks the cached H3 cells of the grids stale.';

CREATE TRIGGER grid_changes_mark_cells_stale
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grid
    FOR EACH STATEMENT EXECUTE FUNCTION grid_cells_mark_stale();

-- The latest position fix gives coverage questions their default period (patrol_period).
CREATE INDEX position_fix_recorded_idx ON position_fix (recorded_at);
