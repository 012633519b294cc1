-- Incident aggregations for the maps: heatmap points (capped), H3 hexagon counts with the
-- previous period, hour-of-day × weekday counts. Hours and weekdays are station time (UTC+8);
-- weekdays are ISO (1 = Monday .. 7 = Sunday). A beat filter matches the beat that covered
-- each incident when it happened (incident.beat_id, stamped with the plan then in force).

-- Ids of a beat code in every plan, a village id; unknown codes raise no_data_found with the
-- parameter's name as HINT (the service turns it into a 404 naming the parameter).
DROP FUNCTION IF EXISTS incident_filter_ids(text, text);
CREATE OR REPLACE FUNCTION incident_filter_ids(
    beat_code text, village_code text, OUT beat_ids int[], OUT village_id int
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF beat_code IS NOT NULL THEN
        SELECT array_agg(b.id) INTO beat_ids FROM beat b WHERE b.code = beat_code;
        IF beat_ids IS NULL THEN
            RAISE EXCEPTION 'There is no beat with code ''%'' in any plan.', beat_code
                USING ERRCODE = 'no_data_found', HINT = 'beat';
        END IF;
    END IF;
    IF village_code IS NOT NULL THEN
        SELECT v.id INTO village_id FROM village v WHERE v.code = village_code;
        IF village_id IS NULL THEN
            RAISE EXCEPTION 'There is no village with code ''%''.', village_code
                USING ERRCODE = 'no_data_found', HINT = 'village';
        END IF;
    END IF;
END;
$$;
COMMENT ON FUNCTION incident_filter_ids(text, text)
    IS 'Beat ids (every plan) of a beat code and the id of a village code for incident filters; unknown codes raise no_data_found with the parameter name as HINT.';

-- Whether an incident passes the maps' filters; NULL filters pass everything. Plain SQL, so the
-- planner inlines it into each aggregation below (the same plan as writing it out).
CREATE OR REPLACE FUNCTION incident_matches(
    received_at timestamptz, category text, beat_id int, village_id int,
    categories text[], beat_ids int[], in_village int, hours int[], weekdays int[]
) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (categories IS NULL OR category = ANY (categories))
       AND (beat_ids IS NULL OR beat_id = ANY (beat_ids))
       AND (in_village IS NULL OR village_id = in_village)
       AND (hours IS NULL
            OR extract(hour FROM received_at AT TIME ZONE 'Asia/Shanghai')::int = ANY (hours))
       AND (weekdays IS NULL
            OR extract(isodow FROM received_at AT TIME ZONE 'Asia/Shanghai')::int = ANY (weekdays))
$$;
COMMENT ON FUNCTION incident_matches(timestamptz, text, int, int, text[], int[], int, int[], int[])
    IS 'Whether an incident (received_at, category, beat, village) passes the incident filters: categories, beat ids, village id, station hours, ISO weekdays; NULL passes all.';

-- The default window: the last `days` whole station days up to the latest incident.
DROP FUNCTION IF EXISTS incident_default_window(int);
CREATE OR REPLACE FUNCTION incident_default_window(
    days int, OUT window_start timestamptz, OUT window_end timestamptz
)
LANGUAGE sql STABLE AS $$
    SELECT e - make_interval(days => days), e
    FROM (SELECT (date_trunc('day', coalesce(max(received_at), now()) AT TIME ZONE 'Asia/Shanghai')
                  + interval '1 day') AT TIME ZONE 'Asia/Shanghai' AS e
          FROM incident) x
$$;
COMMENT ON FUNCTION incident_default_window(int)
    IS 'The last `days` whole station days (UTC+8) ending with the day of the latest incident: the default window of the incident maps.';

-- The stored cell of an incident at a resolution the maps count by (migration 010): each is
-- the cell the point lies in at that resolution, never a parent of a finer one. NULL for any
-- other resolution. Plain SQL, inlined by the planner.
CREATE OR REPLACE FUNCTION incident_cell(
    res int, h3_r7 bigint, h3_r8 bigint, h3_r9 bigint, h3_r10 bigint
) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE res WHEN 10 THEN h3_r10 WHEN 9 THEN h3_r9 WHEN 8 THEN h3_r8 WHEN 7 THEN h3_r7 END
$$;
COMMENT ON FUNCTION incident_cell(int, bigint, bigint, bigint, bigint)
    IS 'Of an incident''s stored H3 cells (h3_r7, h3_r8, h3_r9, h3), the one at resolution res (7..10); NULL for another resolution.';

-- Heatmap points: incidents matching the filters counted per H3 cell, at resolution 10 or the
-- finest coarser stored one (9, 8, 7) whose (frame, cell) groups number at most max_points.
-- Resolution 7 (cells of about 5 km2) is the coarsest: there the answer is given whole even
-- above max_points, which would take a jurisdiction of thousands of square kilometres.
-- frame_by NULL gives one frame 0; 'hour' frames 0..23; 'weekday' frames 1..7.
DROP FUNCTION IF EXISTS incident_heat(timestamptz, timestamptz, text[], text, text, int[],
                                      int[], text, int);
CREATE OR REPLACE FUNCTION incident_heat(
    window_start timestamptz, window_end timestamptz,
    categories text[] DEFAULT NULL, beat_code text DEFAULT NULL, village_code text DEFAULT NULL,
    hours int[] DEFAULT NULL, weekdays int[] DEFAULT NULL,
    frame_by text DEFAULT NULL, max_points int DEFAULT 50000
)
RETURNS TABLE (frame int, cell bigint, res int, incidents bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    f record;
    frames int[];
    r7 bigint[];
    r8 bigint[];
    r9 bigint[];
    r10 bigint[];
    counts bigint[];
    r int := 10;
BEGIN
    f := incident_filter_ids(beat_code, village_code);
    -- one scan: counts per frame and the four stored cells (a cell at 10 does not fix the one
    -- at 9, so the groups carry all four)
    SELECT array_agg(g.frame), array_agg(g.h3_r7), array_agg(g.h3_r8), array_agg(g.h3_r9),
           array_agg(g.h3), array_agg(g.n)
    INTO frames, r7, r8, r9, r10, counts
    FROM (
        SELECT CASE frame_by
                   WHEN 'hour' THEN extract(hour FROM i.received_at AT TIME ZONE 'Asia/Shanghai')
                   WHEN 'weekday' THEN extract(isodow FROM i.received_at AT TIME ZONE 'Asia/Shanghai')
                   ELSE 0 END::int AS frame,
               i.h3_r7, i.h3_r8, i.h3_r9, i.h3, count(*) AS n
        FROM incident i
        WHERE i.received_at >= window_start AND i.received_at < window_end
          AND incident_matches(i.received_at, i.category, i.beat_id, i.village_id,
                               categories, f.beat_ids, f.village_id, hours, weekdays)
        GROUP BY 1, 2, 3, 4, 5
    ) g;
    IF frames IS NULL THEN
        RETURN;
    END IF;
    -- the finest stored resolution whose groups fit
    WHILE r > 7 AND (
        SELECT count(*) FROM (SELECT DISTINCT u.fr, incident_cell(r, u.c7, u.c8, u.c9, u.c10)
                              FROM unnest(frames, r7, r8, r9, r10) AS u (fr, c7, c8, c9, c10)) d
    ) > max_points LOOP
        r := r - 1;
    END LOOP;
    RETURN QUERY
        SELECT u.fr, incident_cell(r, u.c7, u.c8, u.c9, u.c10), r, sum(u.n)::bigint
        FROM unnest(frames, r7, r8, r9, r10, counts) AS u (fr, c7, c8, c9, c10, n)
        GROUP BY 1, 2;
END;
$$;
COMMENT ON FUNCTION incident_heat(timestamptz, timestamptz, text[], text, text, int[], int[], text, int)
    IS 'Heatmap weights: matching incidents counted per stored H3 cell (per frame: none, hour 0..23 or ISO weekday 1..7) at resolution 10 or the finest of 9, 8, 7 with at most max_points groups (7 whole if none fits); the weights sum to the number of matching incidents.';

-- Hexagon counts at a resolution, with the previous period of the same length.
DROP FUNCTION IF EXISTS incident_hexagons(timestamptz, timestamptz, int, text[], text, text,
                                          int[], int[]);
CREATE OR REPLACE FUNCTION incident_hexagons(
    window_start timestamptz, window_end timestamptz, resolution int,
    categories text[] DEFAULT NULL, beat_code text DEFAULT NULL, village_code text DEFAULT NULL,
    hours int[] DEFAULT NULL, weekdays int[] DEFAULT NULL
)
RETURNS TABLE (cell bigint, incidents bigint, previous bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    f record;
BEGIN
    IF resolution IS NULL OR resolution NOT BETWEEN 7 AND 10 THEN
        RAISE EXCEPTION 'Incidents are counted in H3 cells of resolution 7 to 10, not %.',
            resolution USING ERRCODE = 'invalid_parameter_value', HINT = 'resolution';
    END IF;
    f := incident_filter_ids(beat_code, village_code);
    RETURN QUERY
        SELECT incident_cell(resolution, i.h3_r7, i.h3_r8, i.h3_r9, i.h3),
               count(*) FILTER (WHERE i.received_at >= window_start),
               count(*) FILTER (WHERE i.received_at < window_start)
        FROM incident i
        WHERE i.received_at >= window_start - (window_end - window_start)
          AND i.received_at < window_end
          AND incident_matches(i.received_at, i.category, i.beat_id, i.village_id,
                               categories, f.beat_ids, f.village_id, hours, weekdays)
        GROUP BY 1
        ORDER BY 1;
END;
$$;
COMMENT ON FUNCTION incident_hexagons(timestamptz, timestamptz, int, text[], text, text, int[], int[])
    IS 'Matching incidents per stored H3 cell at a resolution (7..10) in the window, and in the previous period of the same length (cells with incidents in either).';

-- Counts per ISO weekday × station hour, every one of the 168 slots (zeros included).
DROP FUNCTION IF EXISTS incident_hourly(timestamptz, timestamptz, text[], text, text);
CREATE OR REPLACE FUNCTION incident_hourly(
    window_start timestamptz, window_end timestamptz,
    categories text[] DEFAULT NULL, beat_code text DEFAULT NULL, village_code text DEFAULT NULL
)
RETURNS TABLE (weekday int, hour int, incidents bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    f record;
BEGIN
    f := incident_filter_ids(beat_code, village_code);
    RETURN QUERY
        WITH c AS (
            SELECT extract(isodow FROM i.received_at AT TIME ZONE 'Asia/Shanghai')::int AS d,
                   extract(hour FROM i.received_at AT TIME ZONE 'Asia/Shanghai')::int AS h,
                   count(*) AS n
            FROM incident i
            WHERE i.received_at >= window_start AND i.received_at < window_end
              AND incident_matches(i.received_at, i.category, i.beat_id, i.village_id,
                                   categories, f.beat_ids, f.village_id, NULL, NULL)
            GROUP BY 1, 2
        )
        SELECT d.d, h.h, coalesce(c.n, 0)::bigint
        FROM generate_series(1, 7) AS d (d)
        CROSS JOIN generate_series(0, 23) AS h (h)
        LEFT JOIN c ON c.d = d.d AND c.h = h.h
        ORDER BY 1, 2;
END;
$$;
COMMENT ON FUNCTION incident_hourly(timestamptz, timestamptz, text[], text, text)
    IS 'Matching incidents per ISO weekday (1..7) and station hour (0..23), all 168 slots.';
