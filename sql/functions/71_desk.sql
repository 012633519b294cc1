-- The command room's desk (issue 12): calls in (110接警), the steps of their timelines
-- (处警全过程) and units' positions, one function call per request. Each runs as whoever asks
-- (row-level security of 90_access.sql / 91_access_command.sql applies) and writes the event
-- log through the triggers of 70_command.sql.
--
-- Refusals: SQL state GS409 (a clash with what is stored: a call number taken with other content,
-- a step that does not follow) with HINT naming the parameter and DETAIL a JSON object of extra
-- fields (the steps allowed next); P0002 with HINT for an unknown call number, call sign or
-- person; 22023 with HINT for a value out of its range. geo_service.db.translate maps them.

-- A caller's details (phone, address, description) are shown by the one rule of
-- 17_access_rules.sql: app_caller_phone and app_caller_detail.
DROP FUNCTION IF EXISTS desk_caller_phone(text);

-- The steps that may follow an incident's status (callback_done: a callback is recorded).
CREATE OR REPLACE FUNCTION desk_next_steps(status text, callback_done boolean) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE status
        WHEN 'received' THEN ARRAY['dispatch', 'divert', 'cancel', 'note']
        WHEN 'dispatched' THEN ARRAY['dispatch', 'arrive', 'cancel', 'note']
        WHEN 'arrived' THEN ARRAY['dispatch', 'arrive', 'close', 'note']
        WHEN 'diverted' THEN ARRAY['accept', 'cancel', 'note']
        WHEN 'accepted' THEN ARRAY['close', 'note']
        WHEN 'closed' THEN CASE WHEN callback_done THEN ARRAY['note']
                                ELSE ARRAY['callback', 'note'] END
        ELSE ARRAY['note'] END
$$;
COMMENT ON FUNCTION desk_next_steps(text, boolean)
    IS 'The timeline''s state machine: the steps allowed after an incident''s status (received, dispatched, arrived, diverted, accepted, closed with or without a callback, cancelled).';

-- The status an incident has after a step (the step allowed: see desk_next_steps).
CREATE OR REPLACE FUNCTION desk_status_after(status text, step text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE step
        WHEN 'dispatch' THEN CASE WHEN status = 'arrived' THEN 'arrived' ELSE 'dispatched' END
        WHEN 'arrive' THEN 'arrived'
        WHEN 'close' THEN 'closed'
        WHEN 'divert' THEN 'diverted'
        WHEN 'accept' THEN 'accepted'
        WHEN 'cancel' THEN 'cancelled'
        ELSE status END
$$;
COMMENT ON FUNCTION desk_status_after(text, text)
    IS 'An incident''s status after an allowed step of its timeline.';

-- An incident with its whole timeline, as this user may see it.
-- PL/pgSQL, so that its query is planned once per connection (a SQL function this size is not
-- inlined and would be planned again on every call: about a millisecond).
CREATE OR REPLACE FUNCTION desk_incident_json(incident_id bigint) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT json_build_object(
        'call_no', i.call_no,
        'received_at', i.received_at,
        'category', i.category,
        'status', i.status,
        'lon', ST_X(i.geom), 'lat', ST_Y(i.geom),
        'caller_phone', app_caller_phone(i.caller_phone),
        'address', app_caller_detail(i.address),
        'description', app_caller_detail(i.description),
        'taken_by', i.taken_by,
        'village', (SELECT json_build_object('code', v.code, 'name', v.name, 'kind', v.kind)
                    FROM village v WHERE v.id = i.village_id),
        'grid', (SELECT json_build_object('code', g.code, 'name', g.name)
                 FROM grid g WHERE g.id = i.grid_id),
        'beat', (SELECT json_build_object('code', b.code, 'name', b.name)
                 FROM beat b WHERE b.id = i.beat_id),
        'diversion_due_at', i.diversion_due_at,
        'repeat', json_build_object(
            'count', cardinality(i.repeat_of),
            'incidents', (
                SELECT coalesce(json_agg(json_build_object(
                           'call_no', e.call_no, 'received_at', e.received_at,
                           'category', e.category, 'status', e.status,
                           'same_phone', coalesce(e.caller_phone = i.caller_phone, false),
                           'distance_m', round(ST_Distance(e.geom::geography,
                                                           i.geom::geography)::numeric, 1))
                       ORDER BY e.received_at, e.call_no), '[]')
                FROM incident e WHERE e.id = ANY (i.repeat_of))),
        'units', (SELECT coalesce(json_agg(json_build_object(
                                      'call_sign', u.call_sign, 'status', u.status)
                                  ORDER BY u.call_sign), '[]')
                  FROM unit_state u WHERE u.incident_id = i.id),
        'arrival', (
            SELECT json_build_object(
                'reported_at', min(s.at) FILTER (WHERE s.source = 'reported'),
                'automatic_at', min(s.at) FILTER (WHERE s.source = 'automatic'))
            FROM incident_step s WHERE s.incident_id = i.id AND s.kind = 'arrive'),
        'next_steps', to_json(desk_next_steps(
            i.status, EXISTS (SELECT 1 FROM incident_step s
                              WHERE s.incident_id = i.id AND s.kind = 'callback'))),
        'timeline', (
            SELECT coalesce(json_agg(json_build_object(
                       'kind', s.kind, 'at', s.at, 'actor', s.actor, 'source', s.source,
                       'call_sign', s.call_sign, 'result', s.result, 'note', s.note,
                       'lon', ST_X(s.geom), 'lat', ST_Y(s.geom), 'recorded_at', s.recorded_at)
                   ORDER BY s.at, s.id), '[]')
            FROM incident_step s WHERE s.incident_id = i.id))
    FROM incident i WHERE i.id = desk_incident_json.incident_id);
END;
$$;
COMMENT ON FUNCTION desk_incident_json(bigint)
    IS 'An incident as JSON with its areas, repeat links and count, units, arrival times (reported and automatic), the steps allowed next and its whole timeline; caller details as app_caller_phone and app_caller_detail show them (phone masked unless command_room or leader; none for a grid worker).';

CREATE OR REPLACE FUNCTION desk_incident(call_no text) RETURNS json
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_variable
DECLARE
    found_id bigint;
BEGIN
    SELECT i.id INTO found_id FROM incident i WHERE i.call_no = desk_incident.call_no;
    IF found_id IS NULL THEN
        RAISE EXCEPTION 'There is no incident with call number ''%''.', call_no
            USING ERRCODE = 'no_data_found', HINT = 'call_no';
    END IF;
    RETURN desk_incident_json(found_id);
END;
$$;
COMMENT ON FUNCTION desk_incident(text)
    IS 'An incident by call number with its whole timeline (desk_incident_json); no_data_found (HINT call_no) when there is none the user sees.';

-- Take a call: store it stamped with its areas (plan in force at received_at) and H3 cells,
-- link its repeats, divert it when it is not a police matter (unless the call-taker keeps it:
-- divert false; read when the call is first stored, not compared on a retry), and answer with
-- the lookup's answer for the point. The same call number again with the same content (received_at
-- compared when given) answers the stored incident (created false); with other content GS409.
-- A point outside the jurisdiction stores nothing and answers inside false with the lookup's
-- outside answer.
DROP FUNCTION IF EXISTS desk_take_call(text, timestamptz, text, text, text, text, float8, float8,
                                        bigint, bigint, bigint, bigint, int, float8, int, float8,
                                        float8);
CREATE OR REPLACE FUNCTION desk_take_call(
    call_no text, received_at timestamptz, category text, caller_phone text, address text,
    description text, lon float8, lat float8,
    h3_r7 bigint, h3_r8 bigint, h3_r9 bigint, h3_r10 bigint,
    repeat_days int, repeat_metres float8, diversion_minutes int,
    marker_radius_m float8, water_radius_m float8, divert boolean,
    OUT inside boolean, OUT created boolean, OUT answer json
)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    p geometry := ST_SetSRID(ST_MakePoint(lon, lat), 4326);
    t timestamptz := coalesce(received_at, now());
    actor text := coalesce(nullif(current_setting('geo.user_name', true), ''), 'operator');
    lookup json;
    a record;
    new_id bigint;
    old record;
    differs text[] := '{}';
    repeats bigint[];
    -- a non-police call goes to the response team unless the call-taker keeps it (divert false)
    diverted boolean := category = 'non_police' AND coalesce(divert, true);
BEGIN
    IF divert AND category <> 'non_police' THEN
        RAISE EXCEPTION 'Only a non-police call is diverted to the response team at intake '
                        '(category %): leave divert out or false', category
            USING ERRCODE = 'invalid_parameter_value', HINT = 'divert';
    END IF;
    -- a retry: the stored incident, or a clash naming what differs
    SELECT i.id, i.received_at, i.category, i.caller_phone, i.address, i.description, i.geom
    INTO old FROM incident i WHERE i.call_no = desk_take_call.call_no;
    IF old.id IS NULL THEN
        SELECT l.inside, l.answer INTO inside, lookup
        FROM lookup_point(lon, lat, t, marker_radius_m, water_radius_m) l;
        IF NOT inside THEN
            created := false;
            answer := lookup;
            RETURN;
        END IF;
        -- grid_at and plan_at inlined here (a cached plan; areas_at would be planned anew)
        SELECT g.village_id, g.id AS grid_id,
               (SELECT bg.beat_id FROM beat_grid bg JOIN plan_at(t) pl ON pl.id = bg.plan_id
                WHERE bg.grid_id = g.id) AS beat_id
        INTO a FROM grid_at(p) g;
        -- each arm through its own index: the caller's phone, and a box around the point
        -- (wider than repeat_metres in both degrees) before the distance on the spheroid
        SELECT coalesce(array_agg(r.id ORDER BY r.received_at, r.id), '{}') INTO repeats
        FROM (
            SELECT e.id, e.received_at FROM incident e
            WHERE caller_phone IS NOT NULL AND e.caller_phone = caller_phone
              AND e.received_at >= t - make_interval(days => repeat_days) AND e.received_at < t
            UNION
            SELECT e.id, e.received_at FROM incident e
            WHERE e.geom && ST_Expand(p, repeat_metres / (110000.0 * cos(radians(lat))))
              AND e.category = category
              AND e.received_at >= t - make_interval(days => repeat_days) AND e.received_at < t
              AND ST_DWithin(e.geom::geography, p::geography, repeat_metres)
        ) r;
        INSERT INTO incident AS i (
            call_no, received_at, category, status, geom, village_id, grid_id, beat_id,
            h3, h3_r9, h3_r8, h3_r7, caller_phone, address, description, taken_by, repeat_of,
            diversion_due_at)
        VALUES (
            call_no, t, category,
            CASE WHEN diverted THEN 'diverted' ELSE 'received' END,
            p, a.village_id, a.grid_id, a.beat_id,
            h3_r10, h3_r9, h3_r8, h3_r7, caller_phone, address, description, actor, repeats,
            CASE WHEN diverted THEN t + make_interval(mins => diversion_minutes) END)
        ON CONFLICT ON CONSTRAINT incident_call_no_key DO NOTHING
        RETURNING i.id INTO new_id;
        IF new_id IS NOT NULL THEN
            IF diverted THEN  -- to the response team (民情110) at intake
                INSERT INTO incident_step (incident_id, kind, at, actor, note)
                VALUES (new_id, 'divert', t, actor, 'non-police call: to the response team');
            END IF;
            created := true;
            answer := json_build_object('created', true, 'incident', desk_incident_json(new_id),
                                        'lookup', lookup);
            RETURN;
        END IF;
        -- taken meanwhile by another request (which has committed): compare with it
        SELECT i.id, i.received_at, i.category, i.caller_phone, i.address, i.description, i.geom
        INTO old FROM incident i WHERE i.call_no = desk_take_call.call_no;
    END IF;
    IF received_at IS NOT NULL AND old.received_at <> received_at THEN
        differs := array_append(differs, 'received_at');
    END IF;
    IF old.category <> category THEN differs := array_append(differs, 'category'); END IF;
    IF old.caller_phone IS DISTINCT FROM caller_phone THEN
        differs := array_append(differs, 'caller_phone');
    END IF;
    IF old.address IS DISTINCT FROM address THEN differs := array_append(differs, 'address'); END IF;
    IF old.description IS DISTINCT FROM description THEN
        differs := array_append(differs, 'description');
    END IF;
    IF NOT ST_DWithin(old.geom, p, 1e-9) THEN differs := array_append(differs, 'location'); END IF;
    IF cardinality(differs) > 0 THEN
        RAISE EXCEPTION 'Call number % is already taken with other content (%): a new call '
                        'needs a new call number.', call_no, array_to_string(differs, ', ')
            USING ERRCODE = 'GS409', HINT = 'call_no',
                  DETAIL = json_build_object('differs', differs)::text;
    END IF;
    SELECT l.inside, l.answer INTO inside, lookup
    FROM lookup_point(ST_X(old.geom), ST_Y(old.geom), old.received_at,
                      marker_radius_m, water_radius_m) l;
    inside := true;
    created := false;
    answer := json_build_object('created', false, 'incident', desk_incident_json(old.id),
                                'lookup', lookup);
END;
$$;
COMMENT ON FUNCTION desk_take_call(text, timestamptz, text, text, text, text, float8, float8, bigint, bigint, bigint, bigint, int, float8, int, float8, float8, boolean)
    IS 'Take a call (110接警): stored stamped with village, grid, beat (plan in force at received_at, default now) and the H3 cells given, linked to earlier incidents of the same caller phone or within repeat_metres with the same category in the previous repeat_days, diverted at once when non_police unless divert is false (due diversion_minutes later; divert true for a police category is refused, HINT divert); answers the incident and the lookup''s answer. The same call number with the same content answers the stored one (created false); other content raises GS409 naming what differs. Outside the jurisdiction: inside false, nothing stored.';

-- Free the units of an incident that is closed or cancelled.
CREATE OR REPLACE FUNCTION desk_free_units(incident_id bigint) RETURNS void
LANGUAGE sql VOLATILE AS $$
    UPDATE unit_state u SET status = 'available', incident_id = NULL, updated_at = now()
    WHERE u.incident_id = desk_free_units.incident_id
$$;
COMMENT ON FUNCTION desk_free_units(bigint)
    IS 'Units working on an incident become available again (the incident is closed or cancelled).';

-- One step of an incident's timeline, if it follows; GS409 naming the steps allowed next if not.
CREATE OR REPLACE FUNCTION desk_step(
    call_no text, kind text, at timestamptz, call_sign text, result text, note text,
    lon float8, lat float8
) RETURNS json
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    t timestamptz := coalesce(at, now());
    actor text := coalesce(nullif(current_setting('geo.user_name', true), ''), 'operator');
    inc record;
    unit record;
    shift record;
    allowed text[];
    where_at geometry;
BEGIN
    SELECT i.id, i.status, i.received_at, i.grid_id INTO inc
    FROM incident i WHERE i.call_no = desk_step.call_no FOR UPDATE;
    IF inc.id IS NULL THEN
        RAISE EXCEPTION 'There is no incident with call number ''%''.', call_no
            USING ERRCODE = 'no_data_found', HINT = 'call_no';
    END IF;
    IF t < inc.received_at THEN
        RAISE EXCEPTION 'A step at % would come before the call was received (%).',
                        t, inc.received_at
            USING ERRCODE = 'invalid_parameter_value', HINT = 'at';
    END IF;
    -- a retry: the same step at the same time is already on the timeline (only with `at`
    -- given: a step without it is new each time)
    IF at IS NOT NULL AND EXISTS (
        SELECT 1 FROM incident_step s
        WHERE s.incident_id = inc.id AND s.kind = desk_step.kind AND s.at = desk_step.at
          AND s.source = 'reported'
          AND s.call_sign IS NOT DISTINCT FROM
              CASE WHEN kind IN ('dispatch', 'arrive') THEN desk_step.call_sign END
          AND s.result IS NOT DISTINCT FROM
              CASE WHEN kind IN ('close', 'callback') THEN desk_step.result END
          AND s.note IS NOT DISTINCT FROM desk_step.note) THEN
        RETURN desk_incident_json(inc.id);
    END IF;
    allowed := desk_next_steps(inc.status, EXISTS (
        SELECT 1 FROM incident_step s WHERE s.incident_id = inc.id AND s.kind = 'callback'));
    IF NOT kind = ANY (allowed) THEN
        RAISE EXCEPTION 'A step % cannot follow: incident % is %; allowed next: %.', kind,
                        call_no,
                        inc.status || CASE WHEN inc.status = 'closed' AND 'callback' <> ALL (allowed)
                                           THEN ' and called back' ELSE '' END,
                        array_to_string(allowed, ', ')
            USING ERRCODE = 'GS409', HINT = 'kind',
                  DETAIL = json_build_object('status', inc.status, 'allowed', allowed)::text;
    END IF;
    IF lon IS NOT NULL AND lat IS NOT NULL THEN
        where_at := ST_SetSRID(ST_MakePoint(lon, lat), 4326);
    END IF;

    IF kind = 'dispatch' THEN
        SELECT d.person_id, d.unit_kind INTO shift FROM duty_shift d
        WHERE d.call_sign = desk_step.call_sign AND d.starts_at <= t AND d.ends_at > t;
        IF shift.person_id IS NULL THEN
            IF NOT EXISTS (SELECT 1 FROM duty_shift d WHERE d.call_sign = desk_step.call_sign)
            THEN
                RAISE EXCEPTION 'There is no unit with call sign ''%''.', call_sign
                    USING ERRCODE = 'no_data_found', HINT = 'call_sign';
            END IF;
            RAISE EXCEPTION 'Unit % is not on duty at %.', call_sign, t
                USING ERRCODE = 'GS409', HINT = 'call_sign',
                      DETAIL = json_build_object('call_sign', call_sign)::text;
        END IF;
        SELECT u.status, u.incident_id INTO unit FROM unit_state u
        WHERE u.call_sign = desk_step.call_sign FOR UPDATE;
        IF unit.incident_id IS NOT NULL THEN
            RAISE EXCEPTION 'Unit % is % for incident %; it is not available.', call_sign,
                            unit.status, (SELECT i.call_no FROM incident i
                                          WHERE i.id = unit.incident_id)
                USING ERRCODE = 'GS409', HINT = 'call_sign',
                      DETAIL = json_build_object('call_sign', call_sign,
                                                 'unit_status', unit.status)::text;
        END IF;
        INSERT INTO unit_state AS u (call_sign, person_id, status, incident_id, grid_id)
        VALUES (call_sign, shift.person_id, 'dispatched', inc.id, NULL)
        ON CONFLICT ON CONSTRAINT unit_state_pkey DO UPDATE
            SET status = 'dispatched', incident_id = inc.id, person_id = shift.person_id,
                updated_at = now();
        -- a unit with no fix yet is placed at its incident's grid for scope
        UPDATE unit_state u SET grid_id = inc.grid_id
        WHERE u.call_sign = desk_step.call_sign AND u.grid_id IS NULL;
    ELSIF kind = 'arrive' THEN
        IF call_sign IS NOT NULL THEN
            IF NOT EXISTS (SELECT 1 FROM incident_step s WHERE s.incident_id = inc.id
                           AND s.kind = 'dispatch' AND s.call_sign = desk_step.call_sign) THEN
                RAISE EXCEPTION 'Unit % was not dispatched to incident %; dispatched: %.',
                                call_sign, call_no,
                                coalesce((SELECT string_agg(DISTINCT s.call_sign, ', ')
                                          FROM incident_step s WHERE s.incident_id = inc.id
                                          AND s.kind = 'dispatch'), 'none')
                    USING ERRCODE = 'GS409', HINT = 'call_sign',
                          DETAIL = json_build_object('call_sign', call_sign)::text;
            END IF;
            IF where_at IS NULL THEN
                SELECT u.geom INTO where_at FROM unit_state u
                WHERE u.call_sign = desk_step.call_sign;
            END IF;
            UPDATE unit_state u SET status = 'on_scene', updated_at = now()
            WHERE u.call_sign = desk_step.call_sign AND u.incident_id = inc.id;
        END IF;
    ELSIF kind = 'close' OR kind = 'cancel' THEN
        PERFORM desk_free_units(inc.id);
    END IF;

    INSERT INTO incident_step (incident_id, kind, at, actor, source, call_sign, result, note,
                               geom)
    VALUES (inc.id, kind, t, actor, 'reported',
            CASE WHEN kind IN ('dispatch', 'arrive') THEN call_sign END,
            CASE WHEN kind IN ('close', 'callback') THEN result END, note,
            CASE WHEN kind = 'arrive' THEN where_at END);
    IF desk_status_after(inc.status, kind) <> inc.status THEN
        UPDATE incident i SET status = desk_status_after(inc.status, kind) WHERE i.id = inc.id;
    END IF;
    RETURN desk_incident_json(inc.id);
END;
$$;
COMMENT ON FUNCTION desk_step(text, text, timestamptz, text, text, text, float8, float8)
    IS 'Record one step of an incident''s timeline (dispatch, arrive, close, divert, accept, callback, cancel, note) at a time (default now), keeping the incident''s status and its units'' states; a step that does not follow raises GS409 with the steps allowed next, a step before the call 22023 (HINT at), an unknown call number or call sign no_data_found; the same step at the same time again (a retry) changes nothing. Answers the incident with its timeline.';

-- A batch of position fixes (JSON array of {person | call_sign, at, lon, lat, h3}, WGS 84, in
-- any order): each stored stamped like loaded fixes; each unit's last position kept current; a
-- dispatched unit whose fix comes within arrival_radius_m of its incident is stamped arrived
-- (automatic), once per unit and incident. A fix already stored (a device sending its batch
-- again) is counted as a duplicate and changes nothing.
CREATE OR REPLACE FUNCTION desk_positions(fixes jsonb, arrival_radius_m float8) RETURNS json
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    f record;
    who record;
    a record;
    u record;
    p geometry;
    stored int := 0;
    duplicates int := 0;
    units text[] := '{}';
    arrivals json[] := '{}';
BEGIN
    FOR f IN
        SELECT x.ord, x.value ->> 'person' AS person, x.value ->> 'call_sign' AS call_sign,
               (x.value ->> 'at')::timestamptz AS at, (x.value ->> 'lon')::float8 AS lon,
               (x.value ->> 'lat')::float8 AS lat, (x.value ->> 'h3')::bigint AS h3
        FROM jsonb_array_elements(fixes) WITH ORDINALITY AS x (value, ord)
        ORDER BY 4, 1
    LOOP
        who := NULL;
        IF f.call_sign IS NOT NULL THEN
            -- the shift under that call sign at the fix's time, else its latest one
            SELECT d.person_id, d.call_sign INTO who FROM duty_shift d
            WHERE d.call_sign = f.call_sign
            ORDER BY (d.starts_at <= f.at AND d.ends_at > f.at) DESC, d.starts_at DESC LIMIT 1;
            IF who.person_id IS NULL THEN
                RAISE EXCEPTION 'Fix %: there is no unit with call sign ''%''.',
                                f.ord, f.call_sign
                    USING ERRCODE = 'no_data_found', HINT = 'call_sign';
            END IF;
            IF f.person IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM person pe WHERE pe.id = who.person_id AND pe.code = f.person) THEN
                RAISE EXCEPTION 'Fix %: call sign % is not person %''s.', f.ord, f.call_sign,
                                f.person
                    USING ERRCODE = 'invalid_parameter_value', HINT = 'person';
            END IF;
        ELSE
            SELECT pe.id AS person_id, d.call_sign INTO who
            FROM person pe
            LEFT JOIN duty_shift d ON d.person_id = pe.id
                 AND d.starts_at <= f.at AND d.ends_at > f.at
            WHERE pe.code = f.person
            ORDER BY d.starts_at DESC NULLS LAST LIMIT 1;
            IF who.person_id IS NULL THEN
                RAISE EXCEPTION 'Fix %: there is no person with code ''%''.', f.ord, f.person
                    USING ERRCODE = 'no_data_found', HINT = 'person';
            END IF;
        END IF;
        p := ST_SetSRID(ST_MakePoint(f.lon, f.lat), 4326);
        -- a device's retry: a fix already stored (same person, time and place) is not again
        IF EXISTS (SELECT 1 FROM position_fix x WHERE x.person_id = who.person_id
                   AND x.recorded_at = f.at AND ST_DWithin(x.geom, p, 1e-9)) THEN
            duplicates := duplicates + 1;
            CONTINUE;
        END IF;
        SELECT * INTO a FROM areas_at(p, f.at);
        INSERT INTO position_fix (person_id, recorded_at, geom, village_id, grid_id, beat_id, h3)
        VALUES (who.person_id, f.at, p, a.village_id, a.grid_id, a.beat_id, f.h3);
        stored := stored + 1;
        CONTINUE WHEN who.call_sign IS NULL;

        INSERT INTO unit_state AS s (call_sign, person_id, status, geom, fixed_at, grid_id)
        VALUES (who.call_sign, who.person_id, 'available', p, f.at, a.grid_id)
        ON CONFLICT ON CONSTRAINT unit_state_pkey DO UPDATE
            SET geom = excluded.geom, fixed_at = excluded.fixed_at,
                grid_id = coalesce(excluded.grid_id, s.grid_id),
                person_id = excluded.person_id, updated_at = now()
            WHERE s.fixed_at IS NULL OR s.fixed_at <= excluded.fixed_at;
        IF NOT who.call_sign = ANY (units) THEN
            units := units || who.call_sign;
        END IF;

        -- automatic arrival: the unit's incident, within the radius, not yet stamped
        SELECT s.status, s.incident_id, i.call_no, i.status AS incident_status INTO u
        FROM unit_state s JOIN incident i ON i.id = s.incident_id
        WHERE s.call_sign = who.call_sign AND s.status IN ('dispatched', 'on_scene')
          AND ST_DWithin(i.geom::geography, p::geography, arrival_radius_m)
          AND f.at >= (SELECT max(d.at) FROM incident_step d WHERE d.incident_id = i.id
                       AND d.kind = 'dispatch' AND d.call_sign = s.call_sign)
          AND NOT EXISTS (SELECT 1 FROM incident_step d WHERE d.incident_id = i.id
                          AND d.kind = 'arrive' AND d.source = 'automatic'
                          AND d.call_sign = s.call_sign)
        FOR UPDATE OF s, i;
        IF u.incident_id IS NOT NULL THEN
            INSERT INTO incident_step (incident_id, kind, at, actor, source, call_sign, geom)
            VALUES (u.incident_id, 'arrive', f.at, 'auto', 'automatic', who.call_sign, p);
            UPDATE unit_state s SET status = 'on_scene', updated_at = now()
            WHERE s.call_sign = who.call_sign AND s.status = 'dispatched';
            IF u.incident_status = 'dispatched' THEN
                UPDATE incident i SET status = 'arrived' WHERE i.id = u.incident_id;
            END IF;
            arrivals := arrivals || json_build_object(
                'call_no', u.call_no, 'call_sign', who.call_sign, 'at', f.at);
        END IF;
    END LOOP;
    RETURN json_build_object('stored', stored, 'duplicates', duplicates, 'units', to_json(units),
                             'arrivals', to_json(arrivals));
END;
$$;
COMMENT ON FUNCTION desk_positions(jsonb, float8)
    IS 'Store a batch of position fixes ({person | call_sign, at, lon, lat, h3} in WGS 84), stamped with their areas; keep each unit''s last position; stamp an automatic arrival when a dispatched unit''s fix comes within arrival_radius_m of its incident; a fix already stored is a duplicate, not stored again. Answers {stored, duplicates, units, arrivals}.';

-- Units on duty at a moment: their shift, last position and status (off duty outside a shift).
CREATE OR REPLACE FUNCTION desk_units(at timestamptz) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object(
               'call_sign', d.call_sign, 'unit_kind', d.unit_kind,
               'person', json_build_object('code', pe.code, 'name', pe.name),
               'starts_at', d.starts_at, 'ends_at', d.ends_at,
               'status', coalesce(u.status, 'available'),
               'call_no', i.call_no,
               'lon', ST_X(u.geom), 'lat', ST_Y(u.geom), 'fixed_at', u.fixed_at,
               'grid', g.code)
           ORDER BY d.call_sign), '[]')
    FROM duty_shift d
    JOIN person pe ON pe.id = d.person_id
    LEFT JOIN unit_state u ON u.call_sign = d.call_sign
    LEFT JOIN incident i ON i.id = u.incident_id
    LEFT JOIN grid g ON g.id = u.grid_id
    WHERE d.starts_at <= desk_units.at AND d.ends_at > desk_units.at
$$;
COMMENT ON FUNCTION desk_units(timestamptz)
    IS 'Units on duty at a moment (their shift covers it) with person, kind, shift, status (available, dispatched, on_scene), incident, last position and grid, as the user sees them.';

-- Incidents received since a moment (open ones only, or all), newest first.
CREATE OR REPLACE FUNCTION desk_incidents(since timestamptz, open_only boolean, lim int)
RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(x.j ORDER BY x.received_at DESC, x.call_no), '[]') FROM (
        SELECT i.received_at, i.call_no, json_build_object(
                   'call_no', i.call_no, 'received_at', i.received_at,
                   'category', i.category, 'status', i.status,
                   'lon', ST_X(i.geom), 'lat', ST_Y(i.geom),
                   'address', app_caller_detail(i.address),
                   'caller_phone', app_caller_phone(i.caller_phone),
                   'village', v.code, 'grid', g.code, 'beat', b.code,
                   'repeat_count', cardinality(i.repeat_of),
                   'diversion_due_at', i.diversion_due_at,
                   'units', (SELECT coalesce(json_agg(u.call_sign ORDER BY u.call_sign), '[]')
                             FROM unit_state u WHERE u.incident_id = i.id)) AS j
        FROM incident i
        LEFT JOIN village v ON v.id = i.village_id
        LEFT JOIN grid g ON g.id = i.grid_id
        LEFT JOIN beat b ON b.id = i.beat_id
        WHERE i.received_at >= since
          AND (NOT open_only
               OR i.status IN ('received', 'dispatched', 'arrived', 'diverted', 'accepted'))
        ORDER BY i.received_at DESC, i.call_no
        LIMIT lim) x
$$;
COMMENT ON FUNCTION desk_incidents(timestamptz, boolean, int)
    IS 'Incidents received since a moment, open ones only (received, dispatched, arrived, diverted, accepted) or all, newest first, at most lim: the desk''s list (caller details by app_caller_phone and app_caller_detail).';

-- The command room's layers as they leave the service (export, OGC API - Features), in the
-- shape of the sample GeoPackage's layers (45_layers.sql explains the shape): duty shifts, and
-- the incidents' timelines (a table: lon and lat where a unit arrived, empty otherwise).
DROP VIEW IF EXISTS layer_duty_shift, layer_incident_step;
CREATE VIEW layer_duty_shift AS
SELECT pe.code AS person_code, d.call_sign, d.unit_kind, station_iso(d.starts_at) AS starts_at,
       station_iso(d.ends_at) AS ends_at, d.id AS _id, d.starts_at AS _time
FROM duty_shift d
JOIN person pe ON pe.id = d.person_id;

CREATE VIEW layer_incident_step AS
SELECT i.call_no, s.kind, station_iso(s.at) AS at, s.actor, s.source, s.call_sign, s.result,
       s.note, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat, s.id AS _id, s.at AS _time
FROM incident_step s
JOIN incident i ON i.id = s.incident_id;
