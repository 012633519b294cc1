-- Work in the field (issue 14, migration 018): inspections and dusk patrol check-ins, sweeps and
-- their progress. The writes are SECURITY DEFINER functions: the service's role only reads the
-- field's tables (93_access_field.sql), and a volunteer who finds a pole missing must move the
-- marker's status, which no policy of water_marker lets them write. Each of them checks the
-- user's areas first (field_require_thing) and refuses with insufficient_privilege, HINT areas,
-- naming the areas the user covers (a 403).

-- The areas a user may record work in, as text for refusals: a community officer's grids (their
-- beats' grids in the plan in force), a grid worker's grids, a volunteer's villages.
CREATE OR REPLACE FUNCTION field_areas_text() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    grids int[] := CASE WHEN app_role() = 'community_officer' THEN app_own_grids()
                        ELSE app_grids() END;
    answer text;
BEGIN
    SELECT string_agg(format('grid %s (%s)', g.code, g.name), ', ' ORDER BY g.code)
    INTO answer FROM grid g WHERE g.id = ANY (grids);
    IF answer IS NULL THEN
        SELECT string_agg(format('village %s (%s)', v.code, v.name), ', ' ORDER BY v.code)
        INTO answer FROM village v WHERE v.id = ANY (app_villages());
    END IF;
    RETURN coalesce(answer, 'no areas (no assignment in force)');
END;
$$;
COMMENT ON FUNCTION field_areas_text()
    IS 'The areas the signed-in user records field work in, for refusals: a community officer''s beats'' grids, a grid worker''s grids (code and name), else a volunteer''s villages.';
REVOKE ALL ON FUNCTION field_areas_text() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION field_areas_text() TO geo_service_app;

-- Whether the signed-in user records field work on a shape: planners and leaders anywhere; a
-- community officer on their beats' grids; a grid worker on their grids; a volunteer on water
-- (markers and water bodies) meeting their villages. Read as the owner (whatever the user
-- sees). A shape on a shared border belongs to every area it meets, as for reading.
CREATE OR REPLACE FUNCTION field_may_touch(shape geometry, kind text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF app_role() IN ('planner', 'leader') THEN
        RETURN true;
    ELSIF app_role() = 'community_officer' THEN
        RETURN EXISTS (SELECT 1 FROM grid g
                       WHERE g.id = ANY (app_own_grids()) AND ST_Intersects(g.geom, shape));
    ELSIF app_role() = 'grid_worker' THEN
        RETURN EXISTS (SELECT 1 FROM grid g
                       WHERE g.id = ANY (app_grids()) AND ST_Intersects(g.geom, shape));
    ELSIF app_role() = 'volunteer' THEN
        RETURN kind IN ('water_marker', 'water_body')
           AND EXISTS (SELECT 1 FROM village v
                       WHERE v.id = ANY (app_villages()) AND ST_Intersects(v.geom, shape));
    END IF;
    RETURN false;
END;
$$;
COMMENT ON FUNCTION field_may_touch(geometry, text)
    IS 'Whether the signed-in user may record field work on a shape of a kind: planner and leader anywhere, a community officer in their beats'' grids, a grid worker in their grids, a volunteer on water markers and water bodies of their villages.';
REVOKE ALL ON FUNCTION field_may_touch(geometry, text) FROM PUBLIC;

-- The thing an inspection is about, by kind and code, as the owner: its id and shape; an
-- unknown code is no_data_found (HINT code); a thing outside the user's areas is refused
-- (insufficient_privilege, HINT areas) when `touch`, or when the user cannot see it.
CREATE OR REPLACE FUNCTION field_require_thing(
    kind text, code text, touch boolean, OUT thing_id int, OUT shape geometry
)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF kind = 'water_marker' THEN
        SELECT t.id, t.geom INTO thing_id, shape FROM water_marker t WHERE t.code = $2;
    ELSIF kind = 'rental_house' THEN
        SELECT t.id, t.geom INTO thing_id, shape FROM rental_house t WHERE t.code = $2;
    ELSIF kind = 'camera' THEN
        SELECT t.id, t.geom INTO thing_id, shape FROM camera t WHERE t.code = $2;
    ELSIF kind = 'water_body' THEN
        SELECT t.id, t.geom INTO thing_id, shape FROM water_body t WHERE t.code = $2;
    ELSE
        RAISE EXCEPTION 'unknown kind of thing: %', kind
            USING ERRCODE = 'invalid_parameter_value', HINT = 'kind';
    END IF;
    IF thing_id IS NULL THEN
        RAISE EXCEPTION 'no % with code %', replace(kind, '_', ' '), code
            USING ERRCODE = 'no_data_found', HINT = 'code';
    END IF;
    IF touch AND NOT field_may_touch(shape, kind) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', HINT = 'areas',
            MESSAGE = format('The %s %s is outside your areas: %s', replace(kind, '_', ' '),
                             code, field_areas_text());
    END IF;
END;
$$;
COMMENT ON FUNCTION field_require_thing(text, text, boolean)
    IS 'Id and shape of a water marker, rental house, camera or water body by code (no_data_found, HINT code, when none); with touch, refused (insufficient_privilege, HINT areas, naming the user''s areas) outside the areas the user records work in.';
REVOKE ALL ON FUNCTION field_require_thing(text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION field_require_thing(text, text, boolean) TO geo_service_app;

-- The evening a moment belongs to for dusk patrols: from 16:00 station time that day.
CREATE OR REPLACE FUNCTION field_evening_start(at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (date_trunc('day', at AT TIME ZONE 'Asia/Shanghai') + interval '16 hours')
           AT TIME ZONE 'Asia/Shanghai'
$$;
COMMENT ON FUNCTION field_evening_start(timestamptz)
    IS 'Start of the evening of a moment''s station-time day (16:00, UTC+8): a dusk patrol check-in from then on counts for that evening.';

-- The state a thing is in now, as its inspections left it (read under the user's policies).
CREATE OR REPLACE FUNCTION field_thing_state(kind text, thing_id int) RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    answer json;
BEGIN
    IF kind = 'water_marker' THEN
        SELECT json_build_object('status', t.status, 'last_inspected_at', t.last_inspected_at,
                                 'marker_kind', t.kind)
        INTO answer FROM water_marker t WHERE t.id = thing_id;
    ELSIF kind = 'rental_house' THEN
        SELECT json_build_object(
                   'status', (SELECT i.result FROM inspection i
                              WHERE i.kind = 'rental_house' AND i.thing_id = t.id
                              ORDER BY i.inspected_at DESC, i.id DESC LIMIT 1),
                   'fix_by', (SELECT i.fix_by FROM inspection i
                              WHERE i.kind = 'rental_house' AND i.thing_id = t.id
                              ORDER BY i.inspected_at DESC, i.id DESC LIMIT 1),
                   'last_inspected_at', t.last_fire_check_at)
        INTO answer FROM rental_house t WHERE t.id = thing_id;
    ELSIF kind = 'camera' THEN
        SELECT json_build_object(
                   'status', t.status,
                   'last_inspected_at', (SELECT max(i.inspected_at) FROM inspection i
                                         WHERE i.kind = 'camera' AND i.thing_id = t.id))
        INTO answer FROM camera t WHERE t.id = thing_id;
    ELSIF kind = 'water_body' THEN
        SELECT json_build_object(
                   'status', CASE WHEN last.at >= field_evening_start(now())
                                  THEN 'patrolled_this_evening' END,
                   'last_inspected_at', last.at,
                   'marked_for_patrol', EXISTS (SELECT 1 FROM patrol_water p
                                                WHERE p.water_body_id = t.id))
        INTO answer
        FROM water_body t,
             LATERAL (SELECT max(i.inspected_at) AS at FROM inspection i
                      WHERE i.kind = 'water_body' AND i.thing_id = t.id) last
        WHERE t.id = thing_id;
    END IF;
    RETURN answer;
END;
$$;
COMMENT ON FUNCTION field_thing_state(text, int)
    IS 'A thing''s current state as its inspections left it: status (marker and camera status, a rental house''s last fire-safety result, a water body patrolled this evening) and last inspection.';

-- One inspection as the API answers it.
CREATE OR REPLACE FUNCTION field_inspection_json(inspection_id bigint) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', i.id, 'client_id', i.client_id, 'kind', i.kind, 'code', i.code,
        'inspected_at', i.inspected_at, 'recorded_at', i.recorded_at,
        'inspector', i.inspector, 'result', i.result, 'items', i.items,
        'fix_what', i.fix_what, 'fix_by', i.fix_by, 'note', i.note,
        'position', CASE WHEN i.position IS NULL THEN NULL ELSE json_build_object(
            'lon', ST_X(i.position), 'lat', ST_Y(i.position), 'accuracy_m', i.accuracy_m) END,
        'check_in_id', i.check_in_id,
        'photos', (SELECT coalesce(json_agg(json_build_object(
                       'n', p.n, 'media_type', p.media_type, 'width', p.width,
                       'height', p.height, 'bytes', octet_length(p.bytes),
                       'sha256', encode(p.sha256, 'hex'),
                       'url', format('/api/v1/inspections/%s/photos/%s', i.id, p.n))
                       ORDER BY p.n), '[]')
                   FROM inspection_photo p WHERE p.inspection_id = i.id),
        'poles', CASE WHEN i.kind = 'water_body' THEN (
                     SELECT coalesce(json_agg(json_build_object(
                         'id', c.id, 'code', c.code, 'result', c.result) ORDER BY c.code), '[]')
                     FROM inspection c WHERE c.check_in_id = i.id) END)
    FROM inspection i WHERE i.id = inspection_id
$$;
COMMENT ON FUNCTION field_inspection_json(bigint)
    IS 'One inspection as JSON: what, when, who, result, fire-safety items, what to fix by when, note, the inspector''s position, its photos (with their URLs) and, for a dusk patrol check-in, the poles seen on the way.';

-- Move a thing's current status with an inspection, unless a later one is stored already (an
-- inspection queued offline for days must not undo a newer one).
CREATE OR REPLACE FUNCTION field_apply(
    kind text, thing_id int, result text, inspected_at timestamptz, inspection_id bigint
) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF kind = 'water_marker' THEN
        UPDATE water_marker t
        SET status = CASE result WHEN 'replaced' THEN 'ok' ELSE result END,
            last_inspected_at = inspected_at
        WHERE t.id = thing_id
          AND (t.last_inspected_at IS NULL OR t.last_inspected_at <= inspected_at);
    ELSIF kind = 'rental_house' THEN
        UPDATE rental_house t SET last_fire_check_at = inspected_at
        WHERE t.id = thing_id
          AND (t.last_fire_check_at IS NULL OR t.last_fire_check_at <= inspected_at);
    ELSIF kind = 'camera' THEN
        UPDATE camera t SET status = result
        WHERE t.id = thing_id AND t.status <> result
          AND NOT EXISTS (SELECT 1 FROM inspection i
                          WHERE i.kind = 'camera' AND i.thing_id = t.id
                            AND i.id <> inspection_id
                            AND i.inspected_at > field_apply.inspected_at);
    END IF;
    -- a water body keeps no status of its own: its check-ins are read from inspection
END;
$$;
COMMENT ON FUNCTION field_apply(text, int, text, timestamptz, bigint)
    IS 'Moves a thing''s current status and last inspection with an inspection (a marker replaced is ok again), unless a later inspection is stored already.';
REVOKE ALL ON FUNCTION field_apply(text, int, text, timestamptz, bigint) FROM PUBLIC;

-- Record an inspection (and, for a dusk patrol check-in, the poles seen on the way) with its
-- photos, in one call. `body` is the request as the API validated it; the photos come as
-- parallel arrays (already checked and stripped of location data by the service). Answers the
-- stored inspection and whether this call stored it (false: the client id was stored already,
-- and nothing was changed).
CREATE OR REPLACE FUNCTION field_inspect(
    body jsonb, photo_types text[], photo_widths int[], photo_heights int[],
    photo_hashes bytea[], photo_bytes bytea[],
    OUT created boolean, OUT answer json
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    kind text := body ->> 'kind';
    thing record;
    pole record;
    pole_thing record;
    at timestamptz := (body ->> 'inspected_at')::timestamptz;
    new_id bigint;
    child_id bigint;
    who text := current_setting('geo.user_name', true);
    who_person int;
    n int := coalesce(cardinality(photo_bytes), 0);
    pos geometry;
BEGIN
    IF who IS NULL OR who = '' THEN
        RAISE EXCEPTION 'an inspection is recorded by a signed-in user'
            USING ERRCODE = 'insufficient_privilege', HINT = 'areas';
    END IF;
    IF at > now() + interval '10 minutes' THEN
        RAISE EXCEPTION 'inspected_at % is in the future', at
            USING ERRCODE = 'invalid_parameter_value', HINT = 'inspected_at';
    END IF;
    SELECT * INTO thing FROM field_require_thing(kind, body ->> 'code', true);
    IF body ? 'lon' AND body ->> 'lon' IS NOT NULL THEN
        pos := ST_SetSRID(ST_MakePoint((body ->> 'lon')::float8, (body ->> 'lat')::float8), 4326);
    END IF;
    SELECT u.person_id INTO who_person FROM app_user u WHERE u.name = who;

    INSERT INTO inspection (client_id, kind, thing_id, code, inspected_at, inspector, person_id,
                            result, items, fix_what, fix_by, note, position, accuracy_m, photos)
    VALUES ((body ->> 'client_id')::uuid, kind, thing.thing_id, body ->> 'code', at, who,
            who_person, body ->> 'result', body -> 'items', body ->> 'fix_what',
            (body ->> 'fix_by')::date, body ->> 'note', pos, (body ->> 'accuracy_m')::real, n)
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN  -- sent before: the stored one, unchanged
        SELECT i.id INTO new_id FROM inspection i
        WHERE i.client_id = (body ->> 'client_id')::uuid;
        created := false;
        answer := field_inspection_json(new_id);
        RETURN;
    END IF;
    created := true;
    FOR i IN 1..n LOOP
        INSERT INTO inspection_photo (inspection_id, n, media_type, width, height, sha256, bytes)
        VALUES (new_id, i, photo_types[i], photo_widths[i], photo_heights[i], photo_hashes[i],
                photo_bytes[i]);
    END LOOP;
    PERFORM field_apply(kind, thing.thing_id, body ->> 'result', at, new_id);

    -- a dusk patrol check-in: the poles seen on the way are inspections of their own
    IF kind = 'water_body' THEN
        FOR pole IN SELECT * FROM jsonb_to_recordset(coalesce(body -> 'poles', '[]'))
                    AS x (code text, result text, note text) LOOP
            SELECT * INTO pole_thing FROM field_require_thing('water_marker', pole.code, true);
            INSERT INTO inspection (client_id, kind, thing_id, code, inspected_at, inspector,
                                    person_id, result, note, position, accuracy_m, check_in_id)
            VALUES (md5((body ->> 'client_id') || '/' || pole.code)::uuid, 'water_marker',
                    pole_thing.thing_id, pole.code, at, who, who_person, pole.result, pole.note,
                    pos, (body ->> 'accuracy_m')::real, new_id)
            RETURNING id INTO child_id;
            PERFORM field_apply('water_marker', pole_thing.thing_id, pole.result, at, child_id);
        END LOOP;
    END IF;
    answer := field_inspection_json(new_id);
END;
$$;
COMMENT ON FUNCTION field_inspect(jsonb, text[], int[], int[], bytea[], bytea[])
    IS 'Records an inspection by the signed-in user with its photos (a water body''s check-in with the poles seen on the way), moves the things'' status, and answers it with created true; a client id stored before answers the stored inspection with created false and changes nothing. Refuses things outside the user''s areas (insufficient_privilege, HINT areas) and unknown codes (no_data_found, HINT code).';
REVOKE ALL ON FUNCTION field_inspect(jsonb, text[], int[], int[], bytea[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION field_inspect(jsonb, text[], int[], int[], bytea[], bytea[])
    TO geo_service_app;

-- A thing's inspections, newest first, as the user sees them (policies of inspection), with
-- the thing's current state. A thing the user does not see is refused naming their areas.
CREATE OR REPLACE FUNCTION field_history(kind text, code text, max_rows int) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    thing record;
BEGIN
    SELECT * INTO thing FROM field_require_thing(kind, code, false);
    IF NOT app_sees_all() AND NOT field_sees_thing(kind, thing.thing_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', HINT = 'areas',
            MESSAGE = format('The %s %s is outside your areas: %s', replace(kind, '_', ' '),
                             code, field_areas_text());
    END IF;
    RETURN json_build_object(
        'kind', kind, 'code', code,
        'state', field_thing_state(kind, thing.thing_id),
        'inspections', (SELECT coalesce(json_agg(field_inspection_json(x.id)
                                                 ORDER BY x.inspected_at DESC, x.id DESC), '[]')
                        FROM (SELECT i.id, i.inspected_at FROM inspection i
                              WHERE i.kind = field_history.kind AND i.thing_id = thing.thing_id
                              ORDER BY i.inspected_at DESC, i.id DESC LIMIT max_rows) x));
END;
$$;
COMMENT ON FUNCTION field_history(text, text, int)
    IS 'A water marker''s, rental house''s, camera''s or water body''s current state and its inspections, newest first (at most max_rows), as the user sees them; refused naming the user''s areas when they do not see the thing.';

-- One photo of an inspection, as the user sees it.
CREATE OR REPLACE FUNCTION field_photo(inspection_id bigint, n int)
RETURNS TABLE (media_type text, bytes bytea)
LANGUAGE sql STABLE AS $$
    SELECT p.media_type, p.bytes FROM inspection_photo p
    WHERE p.inspection_id = field_photo.inspection_id AND p.n = field_photo.n
$$;
COMMENT ON FUNCTION field_photo(bigint, int)
    IS 'Media type and bytes of photo n of an inspection, if the user sees it.';
