-- Layer imports: what blocks removing an area, and re-stamping events when areas change.

-- Why grids cannot be removed: the beat plans and the assignments (history included) that name
-- them. Incidents and position fixes never block; they are re-stamped.
CREATE OR REPLACE FUNCTION grid_removal_blockers(grid_ids int[])
RETURNS TABLE (code text, reason text)
LANGUAGE sql STABLE AS $$
    SELECT g.code,
           concat_ws('; ',
               (SELECT 'in beat plans ' || string_agg(DISTINCT p.code, ', ')
                FROM beat_grid bg JOIN beat_plan p ON p.id = bg.plan_id
                WHERE bg.grid_id = g.id),
               (SELECT count(*) || ' assignments (history is kept)'
                FROM assignment a WHERE a.grid_id = g.id HAVING count(*) > 0))
    FROM grid g
    WHERE g.id = ANY (grid_ids)
      AND (EXISTS (SELECT 1 FROM beat_grid bg WHERE bg.grid_id = g.id)
           OR EXISTS (SELECT 1 FROM assignment a WHERE a.grid_id = g.id))
    ORDER BY g.code
$$;
COMMENT ON FUNCTION grid_removal_blockers(int[])
    IS 'For grids an import would remove: the code and the reason it cannot go (beat plans and assignments naming it); no row when nothing blocks.';

CREATE OR REPLACE FUNCTION village_removal_blockers(village_ids int[])
RETURNS TABLE (code text, reason text)
LANGUAGE sql STABLE AS $$
    SELECT v.code,
           concat_ws('; ',
               (SELECT 'grids ' || string_agg(g.code, ', ' ORDER BY g.code)
                FROM grid g WHERE g.village_id = v.id),
               (SELECT count(*) || ' assignments (history is kept)'
                FROM assignment a WHERE a.village_id = v.id HAVING count(*) > 0))
    FROM village v
    WHERE v.id = ANY (village_ids)
      AND (EXISTS (SELECT 1 FROM grid g WHERE g.village_id = v.id)
           OR EXISTS (SELECT 1 FROM assignment a WHERE a.village_id = v.id))
    ORDER BY v.code
$$;
COMMENT ON FUNCTION village_removal_blockers(int[])
    IS 'For villages an import would remove: the code and the reason it cannot go (its grids and assignments); no row when nothing blocks.';

-- Whether an imported outline differs from the stored one. The same shape with its rings the
-- other way round (Shapefiles), or with coordinates written to 15 digits (GeoJSON, KML) and so
-- off by 1e-13 degrees, is not a change: only what moves by 1e-9 degrees (0.1 mm) or more is.
CREATE OR REPLACE FUNCTION import_geometry_changed(stored geometry, imported geometry)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT NOT (stored = imported OR ST_HausdorffDistance(stored, imported, 0.25) < 1e-9)
$$;
COMMENT ON FUNCTION import_geometry_changed(geometry, geometry)
    IS 'True when an imported geometry differs from the stored one by 1e-9 degrees (0.1 mm) or more (ring direction and 15-digit rounding are not changes).';

-- Events are stamped with their village, grid and beat once, when stored. When an import
-- changes grids, the events that may now belong elsewhere are stamped again by the same rule
-- (areas_at): those stamped with a grid that meets a changed outline (old or new), and those
-- stamped with no grid. Grids tile the station, so an event that changes grid was in one of
-- those. For a plan filled after the fact, every event from a moment on is stamped again.
CREATE OR REPLACE FUNCTION restamp_events(areas geometry[], since timestamptz DEFAULT NULL)
RETURNS TABLE (incidents bigint, position_fixes bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n_incidents bigint;
    n_fixes bigint;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS restamp_grid (id int PRIMARY KEY) ON COMMIT DROP;
    TRUNCATE restamp_grid;
    IF areas IS NOT NULL THEN
        INSERT INTO restamp_grid
        SELECT DISTINCT g.id FROM unnest(areas) a(geom) JOIN grid g ON ST_Intersects(g.geom, a.geom);
        ANALYZE restamp_grid;
    END IF;

    UPDATE incident i
    SET (village_id, grid_id, beat_id) =
        (SELECT s.village_id, s.grid_id, s.beat_id FROM areas_at(i.geom, i.received_at) s)
    WHERE (since IS NULL OR i.received_at >= since)
      AND (areas IS NULL OR i.grid_id IS NULL
           OR EXISTS (SELECT 1 FROM restamp_grid r WHERE r.id = i.grid_id));
    GET DIAGNOSTICS n_incidents = ROW_COUNT;

    UPDATE position_fix f
    SET (village_id, grid_id, beat_id) =
        (SELECT s.village_id, s.grid_id, s.beat_id FROM areas_at(f.geom, f.recorded_at) s)
    WHERE (since IS NULL OR f.recorded_at >= since)
      AND (areas IS NULL OR f.grid_id IS NULL
           OR EXISTS (SELECT 1 FROM restamp_grid r WHERE r.id = f.grid_id));
    GET DIAGNOSTICS n_fixes = ROW_COUNT;

    RETURN QUERY SELECT n_incidents, n_fixes;
END;
$$;
COMMENT ON FUNCTION restamp_events(geometry[], timestamptz)
    IS 'Stamps again (village, grid, beat by areas_at) the incidents and position fixes that changed outlines may move: stamped with a grid meeting any of the outlines, or with none (all events when areas is NULL), at or after since (any time when NULL); returns the counts.';
