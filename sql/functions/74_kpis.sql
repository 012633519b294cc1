-- The station's numbers (issue 12 §5). Each incident has one row of incident_kpi (migration
-- 019), stamped when the incident is stored or changed and when a step of its timeline is
-- stored (statement triggers below, bulk loads included); station_kpis reads those rows for a
-- period and the previous one of the same length in one pass, as the caller (row-level
-- security: incident_kpi is read as incident is, 94_access_kpis.sql).
--
-- Definitions (README, "The station's numbers"):
--   police incident   category other than non_police, not cancelled
--   on scene in time  first arrival (reported or automatic) within the limit of the village's
--                     kind after the call was received (outside any village: the village limit)
--   time to dispatch / arrival   from received_at to the first dispatch / arrival (medians)
--   repeat call       an earlier call from the same caller phone, or of the same category within
--                     repeat_metres, received in the repeat_days before it
--   diverted          a non-police call with a divert step; on time: accepted by the team within
--                     the diversion target after its diversion
--   callback          the last callback's answer; satisfied share = (satisfied + basically
--                     satisfied) / answered
--   hours             incidents by hour of day received, station time (UTC+8)

-- Time since the latest earlier call that makes this one a repeat (same caller phone, or same
-- category within `metres` on the spheroid), looking back at most 365 days; NULL when none.
-- Reads incident as the caller. The place search compares times as a difference: the spatial
-- index alone finds the few neighbours (a range on received_at would have the planner AND in
-- that index's thousands of rows).
CREATE OR REPLACE FUNCTION incident_repeat_gap(
    p_received_at timestamptz, p_phone text, p_category text, p_geom geometry,
    p_metres double precision
) RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p_received_at - greatest(
        (SELECT max(j.received_at) FROM incident j
         WHERE p_phone IS NOT NULL AND j.caller_phone = p_phone
           AND j.received_at < p_received_at
           AND j.received_at >= p_received_at - interval '8760 hours'),
        (SELECT max(j.received_at) FROM incident j
         WHERE j.geom && ST_Expand(
                   p_geom,
                   p_metres / (110000.0 * cos(radians(least(abs(ST_Y(p_geom)) + 1, 89)))),
                   p_metres / 110000.0)
           AND j.category = p_category
           AND p_received_at - j.received_at > interval '0'
           AND p_received_at - j.received_at <= interval '8760 hours'
           AND ST_DWithin(j.geom::geography, p_geom::geography, p_metres)))
$$;
COMMENT ON FUNCTION incident_repeat_gap(timestamptz, text, text, geometry, double precision)
    IS 'Time since the latest earlier incident (at most 365 days back) from the same caller phone or of the same category within p_metres (spheroid): what makes a call a repeat; NULL when none.';

-- The repeat gap of one incident with another radius than the stored one, judged like the
-- stored gaps against every incident (as the owner); station_kpis calls it only for rows the
-- caller may see.
CREATE OR REPLACE FUNCTION incident_kpi_gap(p_id bigint, p_metres double precision)
RETURNS interval
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT incident_repeat_gap(i.received_at, i.caller_phone, i.category, i.geom, p_metres)
    FROM incident i WHERE i.id = p_id
$$;
REVOKE EXECUTE ON FUNCTION incident_kpi_gap(bigint, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION incident_kpi_gap(bigint, double precision) TO geo_service_app;
COMMENT ON FUNCTION incident_kpi_gap(bigint, double precision)
    IS 'The repeat gap of one incident with radius p_metres, judged against every incident (the stored gaps are): for numbers asked with another radius than incident_kpi_rule''s.';

-- The step facts of incidents, from their whole timelines (any order of storing).
CREATE OR REPLACE FUNCTION incident_kpi_steps(ids bigint[]) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE incident_kpi k
    SET dispatch_at = s.dispatch_at, arrive_at = s.arrive_at, divert_at = s.divert_at,
        accept_at = s.accept_at, callback = s.callback, cancelled = s.cancelled
    FROM (
        SELECT st.incident_id,
               min(st.at) FILTER (WHERE st.kind = 'dispatch') AS dispatch_at,
               min(st.at) FILTER (WHERE st.kind = 'arrive') AS arrive_at,
               min(st.at) FILTER (WHERE st.kind = 'divert') AS divert_at,
               min(st.at) FILTER (WHERE st.kind = 'accept') AS accept_at,
               (array_agg(st.result ORDER BY st.at DESC, st.id DESC)
                    FILTER (WHERE st.kind = 'callback'))[1] AS callback,
               bool_or(st.kind = 'cancel') AS cancelled
        FROM incident_step st
        WHERE st.incident_id IN (SELECT unnest(ids))
        GROUP BY st.incident_id
    ) s
    WHERE k.incident_id = s.incident_id
$$;
REVOKE EXECUTE ON FUNCTION incident_kpi_steps(bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION incident_kpi_steps(bigint[])
    IS 'Re-stamps the step facts (first dispatch, arrival, diversion, acceptance, last callback, cancelled) of these incidents'' incident_kpi rows from their whole timelines.';

-- Stamp (insert or re-make) the rows of these incidents: areas, hour, repeat gap and steps.
-- A few incidents (calls taken live) find their earlier calls through the indexes, one probe
-- each. Many (a bulk load, the backfill) would make a million random probes: for them the
-- place arm is one join of the incidents bucketed in cells of the radius (EPSG:4549, metres,
-- a margin for the projection's scale) with the candidates of the 3 x 3 cells around, the
-- spheroid distance deciding as in incident_repeat_gap.
CREATE OR REPLACE FUNCTION incident_kpi_stamp(ids bigint[]) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    metres double precision := (SELECT repeat_metres FROM incident_kpi_rule);
    cell double precision := (SELECT repeat_metres FROM incident_kpi_rule) * 1.01;
BEGIN
    IF cardinality(ids) <= 2000 THEN
        INSERT INTO incident_kpi AS k (incident_id, received_at, hour, police, village_id,
                                       grid_id, beat_id, repeat_gap)
        SELECT i.id, i.received_at,
               extract(hour FROM i.received_at AT TIME ZONE 'Asia/Shanghai'),
               i.category <> 'non_police', i.village_id, i.grid_id, i.beat_id,
               i.received_at - greatest(phone.latest, place.latest)
        FROM incident i
        -- incident_repeat_gap written out as joins: planned once for the whole set
        LEFT JOIN LATERAL (
            SELECT max(j.received_at) AS latest FROM incident j
            WHERE i.caller_phone IS NOT NULL AND j.caller_phone = i.caller_phone
              AND j.received_at < i.received_at
              AND j.received_at >= i.received_at - interval '8760 hours') phone ON true
        LEFT JOIN LATERAL (
            SELECT max(j.received_at) AS latest FROM incident j
            WHERE j.geom && ST_Expand(
                      i.geom,
                      metres / (110000.0 * cos(radians(least(abs(ST_Y(i.geom)) + 1, 89)))),
                      metres / 110000.0)
              AND j.category = i.category
              AND i.received_at - j.received_at > interval '0'
              AND i.received_at - j.received_at <= interval '8760 hours'
              AND ST_DWithin(j.geom::geography, i.geom::geography, metres)) place ON true
        WHERE i.id IN (SELECT unnest(ids))
        ON CONFLICT (incident_id) DO UPDATE
        SET received_at = EXCLUDED.received_at, hour = EXCLUDED.hour, police = EXCLUDED.police,
            village_id = EXCLUDED.village_id, grid_id = EXCLUDED.grid_id,
            beat_id = EXCLUDED.beat_id, repeat_gap = EXCLUDED.repeat_gap;
    ELSE
        CREATE TEMP TABLE kpi_target ON COMMIT DROP AS
        SELECT i.id, i.received_at, i.category, i.caller_phone, i.geom, i.village_id,
               i.grid_id, i.beat_id,
               floor(ST_X(m.p) / cell)::bigint AS cx, floor(ST_Y(m.p) / cell)::bigint AS cy
        FROM incident i, LATERAL (SELECT ST_Transform(i.geom, 4549) AS p) m
        WHERE i.id IN (SELECT unnest(ids));
        CREATE TEMP TABLE kpi_candidate ON COMMIT DROP AS
        SELECT j.received_at, j.category, j.geom,
               floor(ST_X(m.p) / cell)::bigint AS cx, floor(ST_Y(m.p) / cell)::bigint AS cy
        FROM incident j, LATERAL (SELECT ST_Transform(j.geom, 4549) AS p) m
        WHERE j.received_at >= (SELECT min(received_at) FROM kpi_target) - interval '8760 hours'
          AND j.received_at < (SELECT max(received_at) FROM kpi_target);
        ANALYZE kpi_target;
        ANALYZE kpi_candidate;
        INSERT INTO incident_kpi AS k (incident_id, received_at, hour, police, village_id,
                                       grid_id, beat_id, repeat_gap)
        SELECT t.id, t.received_at,
               extract(hour FROM t.received_at AT TIME ZONE 'Asia/Shanghai'),
               t.category <> 'non_police', t.village_id, t.grid_id, t.beat_id,
               t.received_at - greatest(phone.latest, place.latest)
        FROM kpi_target t
        LEFT JOIN LATERAL (
            SELECT max(j.received_at) AS latest FROM incident j
            WHERE t.caller_phone IS NOT NULL AND j.caller_phone = t.caller_phone
              AND j.received_at < t.received_at
              AND j.received_at >= t.received_at - interval '8760 hours') phone ON true
        LEFT JOIN (
            SELECT t2.id, max(c.received_at) AS latest
            FROM kpi_target t2
            CROSS JOIN (VALUES (-1), (0), (1)) dx (d)
            CROSS JOIN (VALUES (-1), (0), (1)) dy (d)
            JOIN kpi_candidate c
              ON c.category = t2.category AND c.cx = t2.cx + dx.d AND c.cy = t2.cy + dy.d
            WHERE c.received_at < t2.received_at
              AND c.received_at >= t2.received_at - interval '8760 hours'
              AND ST_DWithin(c.geom::geography, t2.geom::geography, metres)
            GROUP BY t2.id) place ON place.id = t.id
        ON CONFLICT (incident_id) DO UPDATE
        SET received_at = EXCLUDED.received_at, hour = EXCLUDED.hour, police = EXCLUDED.police,
            village_id = EXCLUDED.village_id, grid_id = EXCLUDED.grid_id,
            beat_id = EXCLUDED.beat_id, repeat_gap = EXCLUDED.repeat_gap;
        DROP TABLE kpi_target;
        DROP TABLE kpi_candidate;
    END IF;
    PERFORM incident_kpi_steps(ids);
END;
$$;
REVOKE EXECUTE ON FUNCTION incident_kpi_stamp(bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION incident_kpi_stamp(bigint[])
    IS 'Makes (or re-makes) the incident_kpi rows of these incidents: received hour, police or not, areas, repeat gap (radius of incident_kpi_rule) and step facts.';

-- Incidents after a changed one whose repeat gap it may change: the same caller phone, or the
-- same category within the rule's radius, received in the 365 days after it.
CREATE OR REPLACE FUNCTION incident_kpi_later(changed jsonb) RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH c AS (
        SELECT (e ->> 'received_at')::timestamptz AS received_at, e ->> 'phone' AS phone,
               e ->> 'category' AS category, ST_GeomFromEWKT(e ->> 'geom') AS geom
        FROM jsonb_array_elements(changed) e
    ), rule AS (SELECT repeat_metres AS metres FROM incident_kpi_rule)
    SELECT coalesce(array_agg(DISTINCT id), '{}') FROM (
        SELECT j.id FROM c JOIN incident j
            ON j.caller_phone = c.phone AND j.received_at > c.received_at
           AND j.received_at <= c.received_at + interval '8760 hours'
        UNION ALL
        SELECT j.id FROM c CROSS JOIN rule JOIN incident j
            ON j.geom && ST_Expand(
                   c.geom,
                   rule.metres / (110000.0 * cos(radians(least(abs(ST_Y(c.geom)) + 1, 89)))),
                   rule.metres / 110000.0)
           AND j.category = c.category AND j.received_at - c.received_at > interval '0'
           AND j.received_at - c.received_at <= interval '8760 hours'
           AND ST_DWithin(j.geom::geography, c.geom::geography, rule.metres)
    ) later
$$;
REVOKE EXECUTE ON FUNCTION incident_kpi_later(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION incident_kpi_later(jsonb)
    IS 'Ids of incidents received in the 365 days after any of the given ones (received_at, phone, category, EWKT geom) whose repeat gap those may change.';

-- New incidents: stamp them, and the later incidents they may make repeats when they were
-- stored out of order (history loaded after newer calls). A call taken live is the latest, and
-- finds nothing later at the cost of one index probe.
CREATE OR REPLACE FUNCTION incident_kpi_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    ids bigint[];
    earliest timestamptz;
    first_new bigint;
BEGIN
    SELECT array_agg(id), min(received_at), min(id) INTO ids, earliest, first_new FROM new_rows;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    -- the latest of the incidents stored before, read backwards on the received_at index: a
    -- plan that holds for any values (an EXISTS of received_at > earliest AND id < first_new
    -- was planned generically by id and read every incident on every call taken)
    IF (SELECT i.received_at FROM incident i WHERE i.id < first_new
        ORDER BY i.received_at DESC LIMIT 1) > earliest THEN
        ids := ids || incident_kpi_later((
            SELECT jsonb_agg(jsonb_build_object('received_at', received_at, 'phone', caller_phone,
                                                'category', category, 'geom', ST_AsEWKT(geom)))
            FROM new_rows));
    END IF;
    PERFORM incident_kpi_stamp(ids);
    RETURN NULL;
END;
$$;

-- Changed incidents: re-stamp those whose time, place, category, phone or areas changed, and
-- the later ones their old and new values may affect. Status changes (every step) cost one
-- comparison of the two rows.
CREATE OR REPLACE FUNCTION incident_kpi_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    ids bigint[];
    changed jsonb;
BEGIN
    WITH moved AS (
        SELECT o.id, o.received_at AS o_at, o.caller_phone AS o_phone, o.category AS o_cat,
               o.geom AS o_geom, n.received_at AS n_at, n.caller_phone AS n_phone,
               n.category AS n_cat, n.geom AS n_geom,
               (o.received_at, o.caller_phone, o.category, o.geom)
                   IS DISTINCT FROM (n.received_at, n.caller_phone, n.category, n.geom) AS repeat
        FROM old_rows o JOIN new_rows n USING (id)
        WHERE (o.received_at, o.caller_phone, o.category, o.geom, o.village_id, o.grid_id,
               o.beat_id)
              IS DISTINCT FROM (n.received_at, n.caller_phone, n.category, n.geom, n.village_id,
                                n.grid_id, n.beat_id)
    )
    SELECT array_agg(id),
           jsonb_agg(v) FILTER (WHERE repeat)
    INTO ids, changed
    FROM moved
    LEFT JOIN LATERAL (VALUES
        (jsonb_build_object('received_at', o_at, 'phone', o_phone, 'category', o_cat,
                            'geom', ST_AsEWKT(o_geom))),
        (jsonb_build_object('received_at', n_at, 'phone', n_phone, 'category', n_cat,
                            'geom', ST_AsEWKT(n_geom)))) AS x (v) ON repeat;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    IF changed IS NOT NULL THEN
        ids := ids || incident_kpi_later(changed);
    END IF;
    PERFORM incident_kpi_stamp(ARRAY(SELECT DISTINCT unnest(ids)));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION incident_kpi_stepped() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM incident_kpi_steps(ARRAY(SELECT DISTINCT incident_id FROM new_rows));
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS incident_kpi_inserted ON incident;
CREATE TRIGGER incident_kpi_inserted AFTER INSERT ON incident
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_kpi_inserted();
DROP TRIGGER IF EXISTS incident_kpi_updated ON incident;
CREATE TRIGGER incident_kpi_updated AFTER UPDATE ON incident
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_kpi_updated();
DROP TRIGGER IF EXISTS incident_kpi_stepped ON incident_step;
CREATE TRIGGER incident_kpi_stepped AFTER INSERT ON incident_step
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_kpi_stepped();

-- Re-stamp every repeat gap with another radius (the REPEAT_METRES setting changed); run once
-- as the owner: SELECT incident_kpi_restamp(150).
CREATE OR REPLACE FUNCTION incident_kpi_restamp(metres double precision) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE incident_kpi_rule SET repeat_metres = metres;
    UPDATE incident_kpi k
    SET repeat_gap = incident_repeat_gap(i.received_at, i.caller_phone, i.category, i.geom,
                                         metres)
    FROM incident i WHERE i.id = k.incident_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;
REVOKE EXECUTE ON FUNCTION incident_kpi_restamp(double precision) FROM PUBLIC;
COMMENT ON FUNCTION incident_kpi_restamp(double precision)
    IS 'Sets the repeat radius the stored repeat gaps use and re-computes every gap with it (owner only); returns the rows re-stamped.';

-- Incidents stored before this file's triggers existed (a database migrated to 019 with its
-- incidents in place) are stamped once here.
DO $$
BEGIN
    IF (SELECT count(*) FROM incident) <> (SELECT count(*) FROM incident_kpi) THEN
        PERFORM incident_kpi_stamp(ARRAY(
            SELECT i.id FROM incident i
            WHERE NOT EXISTS (SELECT 1 FROM incident_kpi k WHERE k.incident_id = i.id)));
    END IF;
END;
$$;

-- The figures of one set of incident_kpi rows, as the API's answer names them.
CREATE OR REPLACE FUNCTION kpi_figures(
    incidents bigint, police bigint, on_scene bigint, dispatch_median_s double precision,
    arrival_median_s double precision, repeats bigint, non_police bigint, diverted bigint,
    on_time bigint, satisfied bigint, basically_satisfied bigint, unsatisfied bigint,
    hours bigint[]
) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object(
        'incidents', incidents,
        'police', police,
        'on_scene', on_scene,
        'on_scene_share', on_scene::float8 / nullif(police, 0),
        'dispatch_median_min', dispatch_median_s / 60,
        'arrival_median_min', arrival_median_s / 60,
        'repeats', repeats,
        'repeat_rate', repeats::float8 / nullif(incidents, 0),
        'non_police', non_police,
        'diverted', diverted,
        'diverted_share', diverted::float8 / nullif(non_police, 0),
        'on_time', on_time,
        'on_time_share', on_time::float8 / nullif(diverted, 0),
        'callbacks', satisfied + basically_satisfied + unsatisfied,
        'satisfied', satisfied,
        'basically_satisfied', basically_satisfied,
        'unsatisfied', unsatisfied,
        'satisfied_share', (satisfied + basically_satisfied)::float8
                           / nullif(satisfied + basically_satisfied + unsatisfied, 0),
        'hours', to_jsonb(hours),
        'busiest_hours', coalesce((
            SELECT jsonb_agg(h - 1 ORDER BY c DESC, h)
            FROM (SELECT c, h FROM unnest(hours) WITH ORDINALITY AS u (c, h)
                  WHERE c > 0 ORDER BY c DESC, h LIMIT 3) top), '[]'::jsonb))
$$;
COMMENT ON FUNCTION kpi_figures(bigint, bigint, bigint, double precision, double precision, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint[])
    IS 'The figures of a period of an area as JSON: counts, shares (NULL when nothing to share), medians in minutes, hours of day and the three busiest.';

-- The numbers of a period [p_from, p_to) and of the previous period of the same length, for the
-- whole of what the caller sees (level station), each village and each beat (by code, over
-- the plans in force while the incidents came in). One row per area; current and previous as
-- kpi_figures JSON; repeat_rate_change relative ((current - previous) / previous).
CREATE OR REPLACE FUNCTION station_kpis(
    p_from timestamptz, p_to timestamptz,
    p_community_minutes int, p_village_minutes int, p_diversion_minutes int,
    p_repeat_days int, p_repeat_metres double precision,
    p_village_id int DEFAULT NULL, p_beat_ids int[] DEFAULT NULL
) RETURNS TABLE (
    level text, code text, name text, kind text, current jsonb, previous jsonb,
    repeat_rate_change double precision
)
LANGUAGE sql STABLE AS $$
    WITH f AS (
        SELECT k.received_at >= p_from AS cur,
               k.village_id,
               b.code AS beat_code,
               k.hour,
               k.police AND NOT k.cancelled AS police,
               NOT k.police AS non_police,
               k.arrive_at - k.received_at
                   <= make_interval(mins => CASE WHEN v.kind = 'community'
                                                 THEN p_community_minutes
                                                 ELSE p_village_minutes END) AS in_time,
               extract(epoch FROM k.dispatch_at - k.received_at) AS dispatch_s,
               extract(epoch FROM k.arrive_at - k.received_at) AS arrive_s,
               CASE WHEN p_repeat_metres = (SELECT repeat_metres FROM incident_kpi_rule)
                    THEN k.repeat_gap
                    ELSE incident_kpi_gap(k.incident_id, p_repeat_metres)
               END <= make_interval(hours => 24 * p_repeat_days) AS repeat,
               k.divert_at IS NOT NULL AS diverted,
               k.accept_at <= k.divert_at + make_interval(mins => p_diversion_minutes) AS on_time,
               k.callback
        FROM incident_kpi k
        LEFT JOIN village v ON v.id = k.village_id
        LEFT JOIN beat b ON b.id = k.beat_id
        WHERE k.received_at >= p_from - (p_to - p_from) AND k.received_at < p_to
          AND (p_village_id IS NULL OR k.village_id = p_village_id)
          AND (p_beat_ids IS NULL OR k.beat_id = ANY (p_beat_ids))
    ), g AS (
        SELECT CASE GROUPING(f.village_id, f.beat_code)
                   WHEN 3 THEN 'station' WHEN 1 THEN 'village' ELSE 'beat' END AS level,
               f.village_id, f.beat_code, f.cur,
               kpi_figures(
                   count(*),
                   count(*) FILTER (WHERE f.police),
                   count(*) FILTER (WHERE f.police AND f.in_time),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY f.dispatch_s)
                       FILTER (WHERE f.police),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY f.arrive_s)
                       FILTER (WHERE f.police),
                   count(*) FILTER (WHERE f.repeat),
                   count(*) FILTER (WHERE f.non_police),
                   count(*) FILTER (WHERE f.non_police AND f.diverted),
                   count(*) FILTER (WHERE f.non_police AND f.diverted AND f.on_time),
                   count(*) FILTER (WHERE f.callback = 'satisfied'),
                   count(*) FILTER (WHERE f.callback = 'basically_satisfied'),
                   count(*) FILTER (WHERE f.callback = 'unsatisfied'),
                   ARRAY[
                       count(*) FILTER (WHERE f.hour = 0), count(*) FILTER (WHERE f.hour = 1),
                       count(*) FILTER (WHERE f.hour = 2), count(*) FILTER (WHERE f.hour = 3),
                       count(*) FILTER (WHERE f.hour = 4), count(*) FILTER (WHERE f.hour = 5),
                       count(*) FILTER (WHERE f.hour = 6), count(*) FILTER (WHERE f.hour = 7),
                       count(*) FILTER (WHERE f.hour = 8), count(*) FILTER (WHERE f.hour = 9),
                       count(*) FILTER (WHERE f.hour = 10), count(*) FILTER (WHERE f.hour = 11),
                       count(*) FILTER (WHERE f.hour = 12), count(*) FILTER (WHERE f.hour = 13),
                       count(*) FILTER (WHERE f.hour = 14), count(*) FILTER (WHERE f.hour = 15),
                       count(*) FILTER (WHERE f.hour = 16), count(*) FILTER (WHERE f.hour = 17),
                       count(*) FILTER (WHERE f.hour = 18), count(*) FILTER (WHERE f.hour = 19),
                       count(*) FILTER (WHERE f.hour = 20), count(*) FILTER (WHERE f.hour = 21),
                       count(*) FILTER (WHERE f.hour = 22), count(*) FILTER (WHERE f.hour = 23)]
               ) AS figures
        FROM f
        GROUP BY GROUPING SETS ((f.cur), (f.cur, f.village_id), (f.cur, f.beat_code))
    ), area AS (
        -- every area with incidents in either period; incidents outside any village or beat
        -- count for the station only
        SELECT DISTINCT g.level, g.village_id, g.beat_code FROM g
        WHERE g.level = 'station' OR g.village_id IS NOT NULL OR g.beat_code IS NOT NULL
    ), empty AS (
        SELECT kpi_figures(0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, 0,
                           array_fill(0::bigint, ARRAY[24])) AS figures
    ), paired AS (
        SELECT a.level, a.village_id, a.beat_code,
               coalesce(c.figures, e.figures) AS current,
               coalesce(p.figures, e.figures) AS previous
        FROM area a CROSS JOIN empty e
        LEFT JOIN g c ON c.level = a.level AND c.cur
            AND c.village_id IS NOT DISTINCT FROM a.village_id
            AND c.beat_code IS NOT DISTINCT FROM a.beat_code
        LEFT JOIN g p ON p.level = a.level AND NOT p.cur
            AND p.village_id IS NOT DISTINCT FROM a.village_id
            AND p.beat_code IS NOT DISTINCT FROM a.beat_code
    )
    SELECT x.level,
           CASE x.level WHEN 'station' THEN (SELECT string_agg(s.code, ',' ORDER BY s.code)
                                            FROM station s)
                        WHEN 'village' THEN v.code ELSE x.beat_code END,
           CASE x.level WHEN 'station' THEN (SELECT string_agg(s.name, ',' ORDER BY s.code)
                                            FROM station s)
                        WHEN 'village' THEN v.name
                        ELSE (SELECT b.name FROM beat b JOIN beat_plan bp ON bp.id = b.plan_id
                              WHERE b.code = x.beat_code
                              ORDER BY bp.status = 'published' DESC,
                                       bp.effective_from DESC NULLS LAST, bp.id DESC
                              LIMIT 1) END,
           v.kind,
           x.current, x.previous,
           ((x.current ->> 'repeat_rate')::float8 - (x.previous ->> 'repeat_rate')::float8)
               / nullif((x.previous ->> 'repeat_rate')::float8, 0)
    FROM paired x
    LEFT JOIN village v ON v.id = x.village_id
    ORDER BY CASE x.level WHEN 'station' THEN 0 WHEN 'village' THEN 1 ELSE 2 END, 2
$$;
COMMENT ON FUNCTION station_kpis(timestamptz, timestamptz, int, int, int, int, double precision, int, int[])
    IS 'The station''s numbers for [p_from, p_to) and the previous period of the same length, per station (all the caller sees), village and beat code: on-scene share by village kind''s limit, median minutes to dispatch and arrival, repeat rate and its change, diverted and on-time shares, callback answers, hours of day. Row-level security applies (read as the caller).';
