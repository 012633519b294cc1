-- Each beat's workload (issue 13): the parts of every grid in one call, the grids' shared edges
-- and the beats of a plan with their community officer. geo_service/services/workload.py adds
-- the parts up per beat with the weights of the request (the index is a weighted sum of parts,
-- each divided by its mean per beat, so it adds up over grids and a rebalance can move it).
--
-- Points (rental houses, water markers) belong to a grid by the boundary rule (lowest grid code
-- among the closed outlines that hold them); incidents by the grid they were stamped with. A
-- road along a shared grid edge counts in both grids (outlines are closed). Lengths and areas
-- are measured in EPSG:4549.

CREATE OR REPLACE FUNCTION workload_period(asked_from timestamptz, asked_to timestamptz)
RETURNS TABLE (period_from timestamptz, period_to timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    latest timestamptz;
BEGIN
    period_to := asked_to;
    IF period_to IS NULL THEN
        SELECT max(i.received_at) INTO latest FROM incident i;
        period_to := coalesce(latest + interval '1 microsecond', now());
    END IF;
    period_from := coalesce(asked_from, period_to - interval '365 days');
    IF period_from >= period_to THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', HINT = 'from',
            MESSAGE = format('The period ends (%s) before it starts or as it starts (%s).',
                             period_to, period_from);
    END IF;
    RETURN NEXT;
END;
$$;
COMMENT ON FUNCTION workload_period(timestamptz, timestamptz)
    IS 'The period of a workload: [from, to) as given; without to, just after the latest incident; without from, 365 days before the end. Refuses a period that does not run forwards (HINT from).';

CREATE OR REPLACE FUNCTION grid_workload_parts(period_from timestamptz, period_to timestamptz)
RETURNS TABLE (
    grid_id int, incidents jsonb, rentals int, markers int, road_m double precision,
    area_m2 double precision, perimeter_m double precision, cells int
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH inc AS (
        SELECT c.grid_id, jsonb_object_agg(c.category, c.n) AS by_category
        FROM (
            SELECT i.grid_id, i.category, count(*) AS n
            FROM incident i
            WHERE i.received_at >= period_from AND i.received_at < period_to
              AND i.grid_id IS NOT NULL
            GROUP BY i.grid_id, i.category
        ) c
        GROUP BY c.grid_id
    ),
    rental AS (
        SELECT p.id AS grid_id, count(*)::int AS n
        FROM rental_house h
        CROSS JOIN LATERAL (
            SELECT g.id FROM grid g WHERE ST_Intersects(g.geom, h.geom) ORDER BY g.code LIMIT 1
        ) p
        GROUP BY p.id
    ),
    marker AS (
        SELECT p.id AS grid_id, count(*)::int AS n
        FROM water_marker w
        CROSS JOIN LATERAL (
            SELECT g.id FROM grid g WHERE ST_Intersects(g.geom, w.geom) ORDER BY g.code LIMIT 1
        ) p
        GROUP BY p.id
    ),
    road_len AS (
        SELECT g.id AS grid_id,
               sum(ST_Length(ST_Transform(ST_Intersection(g.geom, r.geom), 4549))) AS m
        FROM grid g
        JOIN road r ON ST_Intersects(g.geom, r.geom)
        GROUP BY g.id
    ),
    cell AS (
        SELECT c.grid_id, count(*)::int AS n FROM grid_cell c GROUP BY c.grid_id
    )
    SELECT g.id,
           coalesce(inc.by_category, '{}'::jsonb),
           coalesce(rental.n, 0),
           coalesce(marker.n, 0),
           coalesce(road_len.m, 0),
           ST_Area(ST_Transform(g.geom, 4549)),
           ST_Perimeter(ST_Transform(g.geom, 4549)),
           coalesce(cell.n, 0)
    FROM grid g
    LEFT JOIN inc ON inc.grid_id = g.id
    LEFT JOIN rental ON rental.grid_id = g.id
    LEFT JOIN marker ON marker.grid_id = g.id
    LEFT JOIN road_len ON road_len.grid_id = g.id
    LEFT JOIN cell ON cell.grid_id = g.id
$$;
COMMENT ON FUNCTION grid_workload_parts(timestamptz, timestamptz)
    IS 'Every grid''s workload parts: incidents in [period_from, period_to) by category, rental houses and water markers (boundary rule), road length, area and perimeter (metres, EPSG:4549), H3 patrol cells.';

CREATE OR REPLACE FUNCTION grid_adjacency()
RETURNS TABLE (a int, b int, shared_m double precision)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.a, p.b, p.shared_m
    FROM (
        SELECT g1.id AS a, g2.id AS b,
               ST_Length(ST_Transform(ST_CollectionExtract(
                   ST_Intersection(g1.geom, g2.geom), 2), 4549)) AS shared_m
        FROM grid g1
        JOIN grid g2 ON g1.id < g2.id AND ST_Intersects(g1.geom, g2.geom)
    ) p
    WHERE p.shared_m > 0
$$;
COMMENT ON FUNCTION grid_adjacency()
    IS 'Pairs of grids (a < b) that share an edge, with its length in metres (EPSG:4549); grids touching at a point only are not neighbours.';

CREATE OR REPLACE FUNCTION plan_workload_grids(
    plan_code text, period_from timestamptz, period_to timestamptz
)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE SET jit = off AS $$
DECLARE
    pid int;
    base int;
BEGIN
    SELECT * INTO period_from, period_to FROM workload_period(period_from, period_to);
    pid := analysis_plan(plan_code, now());
    SELECT p.based_on INTO base FROM beat_plan p WHERE p.id = pid;
    RETURN json_build_object(
        'plan', (SELECT json_build_object('code', p.code, 'name', p.name, 'status', p.status,
                                          'version', p.version,
                                          'effective_from', p.effective_from)
                 FROM beat_plan p WHERE p.id = pid),
        'from', period_from,
        'to', period_to,
        'cells_fresh', (SELECT s.fresh FROM grid_cell_state s),
        'beats', (
            SELECT coalesce(json_agg(json_build_object(
                'code', b.code, 'name', b.name, 'locked', b.locked,
                'officer', (SELECT json_build_object('code', pe.code, 'name', pe.name)
                            FROM person pe WHERE pe.id = o.person_id)
            ) ORDER BY b.code), '[]')
            FROM beat b
            LEFT JOIN LATERAL (
                -- the plan's own officer, else the one assigned to the beat (or, for a draft,
                -- to the beat of the same code in the plan it was made from), latest first
                SELECT coalesce(b.officer_id, (
                    SELECT a.person_id FROM assignment a
                    JOIN beat ab ON ab.id = a.beat_id
                    WHERE a.role = 'community_officer' AND a.area_kind = 'beat'
                      AND (ab.id = b.id OR (ab.plan_id = base AND ab.code = b.code))
                      AND (a.valid_to IS NULL OR a.valid_to > now())
                    ORDER BY (ab.id = b.id) DESC, a.valid_from DESC
                    LIMIT 1)) AS person_id
            ) o ON true
            WHERE b.plan_id = pid
        ),
        'grids', (
            SELECT coalesce(json_agg(json_build_object(
                'id', g.id, 'code', g.code, 'village', v.code, 'beat', b.code,
                'locked', coalesce(bg.locked OR b.locked, false),
                'incidents', w.incidents, 'rentals', w.rentals, 'markers', w.markers,
                'road_m', w.road_m, 'area_m2', w.area_m2, 'perimeter_m', w.perimeter_m,
                'cells', w.cells
            ) ORDER BY g.code), '[]')
            FROM grid_workload_parts(period_from, period_to) w
            JOIN grid g ON g.id = w.grid_id
            JOIN village v ON v.id = g.village_id
            LEFT JOIN beat_grid bg ON bg.grid_id = g.id AND bg.plan_id = pid
            LEFT JOIN beat b ON b.id = bg.beat_id
        ),
        'edges', (
            SELECT coalesce(json_agg(json_build_array(e.a, e.b, e.shared_m)), '[]')
            FROM grid_adjacency() e
        )
    );
END;
$$;
COMMENT ON FUNCTION plan_workload_grids(text, timestamptz, timestamptz)
    IS 'What a plan''s workload and rebalance need in one answer: the plan, the period, its beats (locks, community officer), every grid with its beat, lock and workload parts, and the grids'' shared edges (metres).';
