-- The live map (issue 12 §4): the events of the command room's log (migration 015, written and
-- NOTIFYed by the triggers of 70_command.sql) as a user in a scope may read them, and the board
-- as it stood at a moment, rebuilt from the log.

-- The log's rows as a user of this context reads them through row-level security: the stream's
-- hub asks once per scope (role, scope, grids) for every client in it, so the context is set
-- here, for this transaction only, as app_enter set it for those clients' requests.
CREATE OR REPLACE FUNCTION live_events(
    user_role text, user_scope text, user_grids int[], ids bigint[], after bigint, lim int
) RETURNS TABLE (
    id bigint, at timestamptz, kind text, incident_id bigint, call_sign text, grid_id int,
    payload jsonb
)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM set_config('geo.role', coalesce(user_role, ''), true),
            set_config('geo.scope', coalesce(user_scope, 'none'), true),
            set_config('geo.grids', coalesce(user_grids, '{}')::text, true);
    RETURN QUERY
    SELECT e.id, e.at, e.kind, e.incident_id, e.call_sign, e.grid_id, e.payload
    FROM command_event e
    WHERE (ids IS NULL OR e.id = ANY (ids)) AND (after IS NULL OR e.id > after)
    ORDER BY e.id
    LIMIT lim;
END;
$$;
COMMENT ON FUNCTION live_events(text, text, int[], bigint[], bigint, int)
    IS 'The command room''s events with these ids (or all) after this id (or all), in order, at most lim, as a user of this role, scope and grids reads them (row-level security, context set for the transaction).';

-- The newest id of the log, whatever the caller may read of it (ids say nothing): where the
-- stream's hub starts, and what a stream that begins with no Last-Event-ID starts from.
CREATE OR REPLACE FUNCTION live_latest_event() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(max(id), 0) FROM command_event
$$;
COMMENT ON FUNCTION live_latest_event()
    IS 'The id of the newest event of the command room''s log (0 when empty).';
REVOKE ALL ON FUNCTION live_latest_event() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION live_latest_event() TO geo_service_app;

-- An incident's status after a step of its timeline (a note changes nothing).
CREATE OR REPLACE FUNCTION live_status_after(step text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE step
        WHEN 'dispatch' THEN 'dispatched' WHEN 'arrive' THEN 'arrived'
        WHEN 'close' THEN 'closed' WHEN 'callback' THEN 'closed' WHEN 'divert' THEN 'diverted'
        WHEN 'accept' THEN 'accepted' WHEN 'cancel' THEN 'cancelled' END
$$;
COMMENT ON FUNCTION live_status_after(text)
    IS 'The status an incident has after a step of this kind (NULL for a note: unchanged).';

-- The board at a moment (复盘): the incidents received in the window before it that were not
-- closed or cancelled by then, with their status, age and target, and every unit on duty then
-- (or seen in the log) with its status at its last position. From the log: the newest incident
-- and unit events at or before the moment. Incidents loaded in bulk are history the log does not
-- carry: their status comes from their timeline (incident_step), and the units of a shift with
-- nothing in the log from their steps and position fixes. Beside them, the calls awaiting their
-- callback (回访): police incidents (not non_police) closed in the callback window before the
-- moment with no callback by then, from their timelines (loaded or logged alike).
DROP FUNCTION IF EXISTS command_board(timestamptz, interval, int, int, int);
CREATE OR REPLACE FUNCTION command_board(
    board_at timestamptz, board_window interval,
    minutes_community int, minutes_village int, minutes_diversion int,
    callback_window interval
) RETURNS jsonb
LANGUAGE sql STABLE AS $$
WITH logged AS (
    SELECT DISTINCT ON (e.incident_id)
        e.incident_id, e.id AS event_id, e.payload ->> 'status' AS status
    FROM command_event e
    WHERE e.kind = 'incident' AND e.at <= board_at AND e.incident_id IS NOT NULL
    ORDER BY e.incident_id, e.id DESC
),
history AS (
    SELECT i.id AS incident_id, NULL::bigint AS event_id,
           coalesce((SELECT live_status_after(s.kind) FROM incident_step s
                     WHERE s.incident_id = i.id AND s.at <= board_at AND s.kind <> 'note'
                     ORDER BY s.at DESC, s.id DESC LIMIT 1), 'received') AS status
    FROM incident i
    WHERE i.received_at <= board_at AND i.received_at > board_at - board_window
      AND NOT EXISTS (SELECT 1 FROM command_event e
                      WHERE e.incident_id = i.id AND e.kind = 'incident')
),
board_incident AS (
    SELECT s.incident_id, s.status, i.call_no, i.category, i.received_at, i.geom, i.grid_id,
           v.kind AS village_kind, g.code AS grid_code, b.code AS beat_code
    FROM (SELECT * FROM logged UNION ALL SELECT * FROM history) s
    JOIN incident i ON i.id = s.incident_id
    LEFT JOIN grid g ON g.id = i.grid_id
    LEFT JOIN village v ON v.id = i.village_id
    LEFT JOIN beat b ON b.id = i.beat_id
    WHERE s.status NOT IN ('closed', 'cancelled')
      AND i.received_at <= board_at AND i.received_at > board_at - board_window
),
steps AS (  -- what each incident's timeline had by then: its units, its first arrival
    SELECT s.incident_id,
           array_agg(DISTINCT s.call_sign) FILTER (WHERE s.kind = 'dispatch') AS call_signs,
           min(s.at) FILTER (WHERE s.kind = 'arrive') AS arrived_at,
           min(s.at) FILTER (WHERE s.kind = 'accept') AS accepted_at
    FROM incident_step s
    WHERE s.incident_id IN (SELECT incident_id FROM board_incident) AND s.at <= board_at
    GROUP BY s.incident_id
),
awaiting AS (  -- closed in the callback window, not called back by then
    SELECT i.id AS incident_id, i.call_no, i.category, i.received_at, c.closed_at, i.geom,
           g.code AS grid_code, b.code AS beat_code
    FROM (SELECT s.incident_id, min(s.at) AS closed_at FROM incident_step s
          WHERE s.kind = 'close' AND s.at <= board_at AND s.at > board_at - callback_window
          GROUP BY s.incident_id) c
    JOIN incident i ON i.id = c.incident_id
    LEFT JOIN grid g ON g.id = i.grid_id
    LEFT JOIN beat b ON b.id = i.beat_id
    WHERE i.category <> 'non_police'
      AND NOT EXISTS (SELECT 1 FROM incident_step s
                      WHERE s.incident_id = i.id AND s.kind = 'callback' AND s.at <= board_at)
),
shift AS (  -- the units on duty at the moment
    SELECT d.call_sign, d.unit_kind, d.person_id, d.starts_at, d.ends_at
    FROM duty_shift d
    WHERE tstzrange(d.starts_at, d.ends_at, '[)') @> board_at
),
unit_logged AS (
    SELECT DISTINCT ON (e.call_sign)
        e.call_sign, e.id AS event_id, e.payload
    FROM command_event e
    WHERE e.kind = 'unit' AND e.at <= board_at AND e.call_sign IS NOT NULL
    ORDER BY e.call_sign, e.id DESC
),
unit_history AS (  -- a unit of a shift with nothing in the log: its steps and its fixes
    SELECT sh.call_sign,
           coalesce((SELECT CASE s.kind WHEN 'dispatch' THEN 'dispatched'
                                        WHEN 'arrive' THEN 'on_scene' ELSE 'available' END
                     FROM incident_step s
                     WHERE s.call_sign = sh.call_sign AND s.at >= sh.starts_at
                       AND s.at <= board_at AND s.kind IN ('dispatch', 'arrive', 'close', 'cancel')
                     ORDER BY s.at DESC, s.id DESC LIMIT 1), 'available') AS status,
           (SELECT i.call_no FROM incident_step s JOIN incident i ON i.id = s.incident_id
            WHERE s.call_sign = sh.call_sign AND s.at >= sh.starts_at AND s.at <= board_at
              AND s.kind IN ('dispatch', 'arrive')
            ORDER BY s.at DESC, s.id DESC LIMIT 1) AS call_no,
           f.geom, f.recorded_at
    FROM shift sh
    LEFT JOIN LATERAL (
        SELECT p.geom, p.recorded_at FROM position_fix p
        WHERE p.person_id = sh.person_id AND p.recorded_at <= board_at
          AND p.recorded_at >= sh.starts_at
        ORDER BY p.recorded_at DESC LIMIT 1) f ON true
    WHERE sh.call_sign NOT IN (SELECT call_sign FROM unit_logged)
),
board_unit AS (
    SELECT u.call_sign,
           CASE WHEN sh.call_sign IS NULL THEN 'off_duty' ELSE u.payload ->> 'status' END AS status,
           u.payload ->> 'call_no' AS call_no,
           (u.payload ->> 'lon')::float8 AS lon, (u.payload ->> 'lat')::float8 AS lat,
           (u.payload ->> 'fixed_at')::timestamptz AS fixed_at, sh.unit_kind
    FROM unit_logged u LEFT JOIN shift sh ON sh.call_sign = u.call_sign
    UNION ALL
    SELECT h.call_sign, CASE WHEN h.status = 'available' THEN 'available' ELSE h.status END,
           CASE WHEN h.status = 'available' THEN NULL ELSE h.call_no END,
           ST_X(h.geom), ST_Y(h.geom), h.recorded_at, sh.unit_kind
    FROM unit_history h JOIN shift sh ON sh.call_sign = h.call_sign
)
SELECT jsonb_build_object(
    'at', board_at,
    'last_event_id', (SELECT coalesce(max(e.id), 0) FROM command_event e WHERE e.at <= board_at),
    'incidents', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'call_no', b.call_no, 'status', b.status, 'category', b.category,
            'received_at', b.received_at,
            'age_seconds', round(extract(epoch FROM board_at - b.received_at)),
            'due_at', b.received_at + make_interval(mins => CASE
                WHEN b.status IN ('diverted', 'accepted') THEN minutes_diversion
                WHEN b.village_kind = 'village' THEN minutes_village
                ELSE minutes_community END),
            'arrived_at', st.arrived_at, 'accepted_at', st.accepted_at,
            'call_signs', coalesce(to_jsonb(st.call_signs), '[]'::jsonb),
            'lon', ST_X(b.geom), 'lat', ST_Y(b.geom),
            'grid', b.grid_code, 'beat', b.beat_code) ORDER BY b.received_at, b.call_no)
        FROM board_incident b LEFT JOIN steps st ON st.incident_id = b.incident_id), '[]'),
    'awaiting_callback', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'call_no', a.call_no, 'category', a.category, 'received_at', a.received_at,
            'closed_at', a.closed_at,
            'waiting_seconds', round(extract(epoch FROM board_at - a.closed_at)),
            'call_signs', coalesce((SELECT to_jsonb(array_agg(DISTINCT s.call_sign))
                                    FROM incident_step s
                                    WHERE s.incident_id = a.incident_id AND s.kind = 'dispatch'
                                      AND s.at <= board_at AND s.call_sign IS NOT NULL),
                                   '[]'::jsonb),
            'lon', ST_X(a.geom), 'lat', ST_Y(a.geom),
            'grid', a.grid_code, 'beat', a.beat_code) ORDER BY a.closed_at, a.call_no)
        FROM awaiting a), '[]'),
    'units', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'call_sign', u.call_sign, 'status', u.status, 'unit_kind', u.unit_kind,
            'call_no', u.call_no, 'lon', u.lon, 'lat', u.lat, 'fixed_at', u.fixed_at)
            ORDER BY u.call_sign)
        FROM board_unit u), '[]'))
$$;
COMMENT ON FUNCTION command_board(timestamptz, interval, int, int, int, interval)
    IS 'The command room''s board as it stood at board_at, from the event log (history loaded in bulk from its timeline): open incidents received in the window before it with status, age, target (on scene by village kind, or the diversion target) and units sent; police incidents closed in the callback window before it with no callback by then (oldest close first); units on duty (or in the log) with their status at their last position. What the caller may read only (row-level security).';
