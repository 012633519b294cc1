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

-- Whether a water was marked for dusk patrol at a moment (its marks are periods).
CREATE OR REPLACE FUNCTION field_patrol_marked(water_body_id int, at timestamptz) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (SELECT 1 FROM patrol_water p
                   WHERE p.water_body_id = field_patrol_marked.water_body_id
                     AND p.marked_at <= at AND (p.unmarked_at IS NULL OR p.unmarked_at > at))
$$;
COMMENT ON FUNCTION field_patrol_marked(int, timestamptz)
    IS 'Whether a water body was marked for dusk patrol at a moment: a mark from marked_at until unmarked_at (open: still marked) holds it.';

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
                   'marked_for_patrol', field_patrol_marked(t.id, now()))
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

-- ------------------------------------------------------------------------- sweeps (梳网清格)

-- A sweep the user may read, by id: no_data_found (HINT sweep_id) when there is none,
-- insufficient_privilege (HINT areas) when it covers none of the user's grids.
CREATE OR REPLACE FUNCTION field_require_sweep(sweep_id int) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sweep s WHERE s.id = sweep_id) THEN
        RAISE EXCEPTION 'no sweep with id %', sweep_id
            USING ERRCODE = 'no_data_found', HINT = 'sweep_id';
    END IF;
    IF app_scope() <> 'station' AND NOT field_sweep_in_grids(sweep_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', HINT = 'areas',
            MESSAGE = format('Sweep %s covers none of your areas: %s', sweep_id,
                             field_areas_text());
    END IF;
END;
$$;
COMMENT ON FUNCTION field_require_sweep(int)
    IS 'Refuses a sweep id that names no sweep (no_data_found, HINT sweep_id) or a sweep covering none of the grids of a user in areas scope (insufficient_privilege, HINT areas).';
REVOKE ALL ON FUNCTION field_require_sweep(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION field_require_sweep(int) TO geo_service_app;

-- A sweep's targets: the things of its target kinds whose grid (by the boundary rule) is one
-- of its grids, as they are now; targets stored already are kept. Run when a sweep is opened,
-- and when the sample's sweeps (or imported ones) are loaded.
CREATE OR REPLACE FUNCTION field_sweep_fill_targets(sweep_id int) RETURNS int
LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp AS $$
DECLARE
    kinds text[] := (SELECT s.target_kinds FROM sweep s WHERE s.id = sweep_id);
    added int;
BEGIN
    INSERT INTO sweep_target (sweep_id, kind, thing_id, code, grid_id, geom)
    SELECT field_sweep_fill_targets.sweep_id, x.kind, x.id, x.code, g.id, x.geom
    FROM grid g
    JOIN (SELECT 'rental_house' AS kind, t.id, t.code, t.geom FROM rental_house t
          WHERE 'rental_house' = ANY (kinds)
          UNION ALL
          SELECT 'water_marker', t.id, t.code, t.geom FROM water_marker t
          WHERE 'water_marker' = ANY (kinds)
          UNION ALL
          SELECT 'camera', t.id, t.code, t.geom FROM camera t WHERE 'camera' = ANY (kinds)) x
      ON ST_Intersects(g.geom, x.geom)
    WHERE g.id IN (SELECT sg.grid_id FROM sweep_grid sg
                   WHERE sg.sweep_id = field_sweep_fill_targets.sweep_id)
      AND grid_at_point(x.geom) = g.id
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added;
END;
$$;
COMMENT ON FUNCTION field_sweep_fill_targets(int)
    IS 'Stores a sweep''s targets: the things of its target kinds whose grid by the boundary rule is one of its grids (targets stored already kept); answers how many were added.';
REVOKE ALL ON FUNCTION field_sweep_fill_targets(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION field_sweep_fill_targets(int) TO geo_service_app;  -- imports of sweep grids

-- Open a sweep: its grids (given, or every grid of the villages given), the things of its
-- target kinds whose grid (by the boundary rule) is one of them. Planners and leaders open
-- sweeps anywhere, a community officer in their beats' grids. Answers the sweep's id.
CREATE OR REPLACE FUNCTION field_open_sweep(body jsonb) RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    codes text[];
    grid_ids int[];
    unknown text[];
    outside text[];
    kinds text[] := ARRAY(SELECT jsonb_array_elements_text(body -> 'target_kinds'));
    new_id int;
BEGIN
    IF app_role() IS NULL OR app_role() NOT IN ('planner', 'leader', 'community_officer') THEN
        RAISE EXCEPTION 'only a planner, leader or community officer opens a sweep'
            USING ERRCODE = 'insufficient_privilege', HINT = 'areas';
    END IF;
    IF jsonb_typeof(body -> 'grids') = 'array' AND jsonb_array_length(body -> 'grids') > 0 THEN
        codes := ARRAY(SELECT jsonb_array_elements_text(body -> 'grids'));
        SELECT array_agg(c) INTO unknown
        FROM unnest(codes) c WHERE NOT EXISTS (SELECT 1 FROM grid g WHERE g.code = c);
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'no grid with code %', array_to_string(unknown, ', ')
                USING ERRCODE = 'no_data_found', HINT = 'grids';
        END IF;
        SELECT array_agg(g.id ORDER BY g.code) INTO grid_ids FROM grid g WHERE g.code = ANY (codes);
    ELSE
        codes := ARRAY(SELECT jsonb_array_elements_text(body -> 'villages'));
        SELECT array_agg(c) INTO unknown
        FROM unnest(codes) c WHERE NOT EXISTS (SELECT 1 FROM village v WHERE v.code = c);
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'no village with code %', array_to_string(unknown, ', ')
                USING ERRCODE = 'no_data_found', HINT = 'villages';
        END IF;
        SELECT array_agg(g.id ORDER BY g.code) INTO grid_ids
        FROM grid g JOIN village v ON v.id = g.village_id WHERE v.code = ANY (codes);
    END IF;
    IF grid_ids IS NULL THEN
        RAISE EXCEPTION 'a sweep covers at least one grid'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'grids';
    END IF;
    IF app_role() = 'community_officer' THEN
        SELECT array_agg(g.code ORDER BY g.code) INTO outside
        FROM grid g WHERE g.id = ANY (grid_ids) AND NOT g.id = ANY (app_own_grids());
        IF outside IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', HINT = 'areas',
                MESSAGE = format('Grids %s are outside your areas: %s',
                                 array_to_string(outside, ', '), field_areas_text());
        END IF;
    END IF;

    INSERT INTO sweep (name, starts_at, ends_at, target_kinds, opened_by, note)
    VALUES (body ->> 'name', (body ->> 'starts_at')::timestamptz,
            (body ->> 'ends_at')::timestamptz, kinds, current_setting('geo.user_name', true),
            body ->> 'note')
    RETURNING id INTO new_id;
    INSERT INTO sweep_grid (sweep_id, grid_id) SELECT new_id, unnest(grid_ids);
    PERFORM field_sweep_fill_targets(new_id);
    RETURN new_id;
END;
$$;
COMMENT ON FUNCTION field_open_sweep(jsonb)
    IS 'Opens a sweep (name, starts_at, ends_at, grids or villages, target_kinds, note) by the signed-in planner, leader or community officer (their beats'' grids only) with its targets: the things of those kinds whose grid by the boundary rule is one of the sweep''s. Unknown codes are no_data_found (HINT grids or villages).';
REVOKE ALL ON FUNCTION field_open_sweep(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION field_open_sweep(jsonb) TO geo_service_app;

-- Where a sweep stands at a moment: 'upcoming', 'open' or 'finished'.
CREATE OR REPLACE FUNCTION field_sweep_status(starts_at timestamptz, ends_at timestamptz,
                                              at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN at < starts_at THEN 'upcoming' WHEN at < ends_at THEN 'open'
                ELSE 'finished' END
$$;
COMMENT ON FUNCTION field_sweep_status(timestamptz, timestamptz, timestamptz)
    IS 'A sweep''s status at a moment: upcoming before its period, open during it, finished after.';

-- A sweep's targets as the user sees them, each with the first inspection of it within the
-- period (done) or none.
CREATE OR REPLACE FUNCTION field_sweep_targets(sweep_id int)
RETURNS TABLE (kind text, code text, grid_id int, geom geometry, done_at timestamptz,
               done_by text)
LANGUAGE sql STABLE AS $$
    SELECT t.kind, t.code, t.grid_id, t.geom, d.inspected_at, d.inspector
    FROM sweep s
    JOIN sweep_target t ON t.sweep_id = s.id
    LEFT JOIN LATERAL (
        SELECT i.inspected_at, i.inspector FROM inspection i
        WHERE i.kind = t.kind AND i.thing_id = t.thing_id
          AND i.inspected_at >= s.starts_at AND i.inspected_at < s.ends_at
        ORDER BY i.inspected_at, i.id LIMIT 1) d ON true
    WHERE s.id = field_sweep_targets.sweep_id
$$;
COMMENT ON FUNCTION field_sweep_targets(int)
    IS 'A sweep''s targets the user sees, with when and by whom each was first inspected within the sweep''s period (NULL: not done).';

-- One sweep's summary: period, status, counts.
CREATE OR REPLACE FUNCTION field_sweep_summary(sweep_id int, at timestamptz) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', s.id, 'name', s.name, 'starts_at', s.starts_at, 'ends_at', s.ends_at,
        'target_kinds', s.target_kinds, 'opened_by', s.opened_by, 'opened_at', s.opened_at,
        'note', s.note, 'status', field_sweep_status(s.starts_at, s.ends_at, at),
        'grids', (SELECT coalesce(json_agg(g.code ORDER BY g.code), '[]')
                  FROM sweep_grid sg JOIN grid g ON g.id = sg.grid_id WHERE sg.sweep_id = s.id),
        'targets', c.targets, 'done', c.done,
        'overdue', CASE WHEN at >= s.ends_at THEN c.targets - c.done ELSE 0 END,
        'done_share', CASE WHEN c.targets > 0 THEN round(c.done::numeric / c.targets, 4) END)
    FROM sweep s,
         LATERAL (SELECT count(*)::int AS targets, count(t.done_at)::int AS done
                  FROM field_sweep_targets(s.id) t) c
    WHERE s.id = sweep_id
$$;
COMMENT ON FUNCTION field_sweep_summary(int, timestamptz)
    IS 'A sweep''s period, status at a moment, grids, and counts of the targets the user sees: targets, done, overdue (not done after the period) and the share done.';

CREATE OR REPLACE FUNCTION field_sweeps(at timestamptz) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(field_sweep_summary(s.id, at) ORDER BY s.starts_at DESC, s.id DESC),
                    '[]')
    FROM sweep s
$$;
COMMENT ON FUNCTION field_sweeps(timestamptz)
    IS 'Every sweep the user sees (its grids meet theirs), newest first, with its summary at a moment.';

-- One sweep in full: its summary, progress per grid and per person (the grid workers assigned
-- to each grid), who did the work, the overdue targets, and a GeoJSON map of done and not done.
CREATE OR REPLACE FUNCTION field_sweep(sweep_id int, at timestamptz) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s sweep;
    answer json;
BEGIN
    PERFORM field_require_sweep(sweep_id);
    SELECT * INTO s FROM sweep x WHERE x.id = sweep_id;
    WITH t AS (SELECT * FROM field_sweep_targets(sweep_id)),
    per_grid AS (
        SELECT g.code, g.name, count(t.code)::int AS targets, count(t.done_at)::int AS done
        FROM sweep_grid sg JOIN grid g ON g.id = sg.grid_id
        LEFT JOIN t ON t.grid_id = g.id
        WHERE sg.sweep_id = field_sweep.sweep_id
        GROUP BY g.code, g.name),
    worker AS (  -- the grid workers of each grid, as assigned at the period's end (or now)
        SELECT DISTINCT a.person_id, a.grid_id FROM assignment a
        WHERE a.role = 'grid_worker' AND a.area_kind = 'grid'
          AND a.grid_id IN (SELECT sg.grid_id FROM sweep_grid sg
                            WHERE sg.sweep_id = field_sweep.sweep_id)
          AND a.validity @> least(at, s.ends_at - interval '1 microsecond')),
    per_person AS (
        SELECT p.code, p.name,
               (SELECT json_agg(g.code ORDER BY g.code) FROM worker w2 JOIN grid g
                ON g.id = w2.grid_id WHERE w2.person_id = p.id) AS grids,
               count(t.code)::int AS targets, count(t.done_at)::int AS done
        FROM person p JOIN worker w ON w.person_id = p.id
        LEFT JOIN t ON t.grid_id = w.grid_id
        GROUP BY p.id, p.code, p.name),
    done_by AS (
        SELECT t.done_by AS inspector, count(*)::int AS done FROM t
        WHERE t.done_at IS NOT NULL GROUP BY t.done_by)
    SELECT json_build_object(
        'sweep', field_sweep_summary(sweep_id, at),
        'by_grid', (SELECT coalesce(json_agg(json_build_object(
                        'grid', x.code, 'name', x.name, 'targets', x.targets, 'done', x.done,
                        'overdue', CASE WHEN at >= s.ends_at THEN x.targets - x.done ELSE 0 END)
                        ORDER BY x.code), '[]') FROM per_grid x),
        'by_person', (SELECT coalesce(json_agg(json_build_object(
                          'person', x.code, 'name', x.name, 'grids', x.grids,
                          'targets', x.targets, 'done', x.done) ORDER BY x.code), '[]')
                      FROM per_person x),
        'done_by', (SELECT coalesce(json_agg(json_build_object(
                        'inspector', x.inspector, 'done', x.done) ORDER BY x.inspector), '[]')
                    FROM done_by x),
        'overdue', (SELECT coalesce(json_agg(json_build_object(
                        'kind', t.kind, 'code', t.code, 'grid', g.code)
                        ORDER BY g.code, t.kind, t.code), '[]')
                    FROM t JOIN grid g ON g.id = t.grid_id
                    WHERE t.done_at IS NULL AND at >= s.ends_at),
        'map', json_build_object(
            'type', 'FeatureCollection',
            'features', (SELECT coalesce(json_agg(json_build_object(
                             'type', 'Feature', 'id', t.kind || ':' || t.code,
                             'geometry', ST_AsGeoJSON(t.geom, 7)::json,
                             'properties', json_build_object(
                                 'kind', t.kind, 'code', t.code, 'grid', g.code,
                                 'done', t.done_at IS NOT NULL, 'done_at', t.done_at,
                                 'done_by', t.done_by,
                                 'overdue', t.done_at IS NULL AND at >= s.ends_at))
                             ORDER BY t.kind, t.code), '[]')
                         FROM t JOIN grid g ON g.id = t.grid_id)))
    INTO answer;
    RETURN answer;
END;
$$;
COMMENT ON FUNCTION field_sweep(int, timestamptz)
    IS 'One sweep at a moment as the user sees it: summary, progress per grid and per grid worker, inspections done per inspector, overdue targets, and a GeoJSON FeatureCollection of the targets done and not done.';

-- ------------------------------------------------------------ dusk shore patrols (傍晚巡河)

-- Per day of a period, which waters marked for patrol that day had an evening check-in (from
-- 16:00 station time to midnight) and which had none; days after `at` are left out. A water
-- counts on the days its mark (a period: marked_at until unmarked_at) meets the day's evening,
-- so unmarking it leaves the days it was marked as they were.
CREATE OR REPLACE FUNCTION field_patrol_days(first_day date, last_day date, at timestamptz)
RETURNS json
LANGUAGE sql STABLE AS $$
    WITH day AS (  -- each day with its evening, station time
        SELECT d::date AS day,
               (d + interval '16 hours') AT TIME ZONE 'Asia/Shanghai' AS evening_from,
               (d + interval '1 day') AT TIME ZONE 'Asia/Shanghai' AS evening_to
        FROM generate_series(first_day::timestamp,
                             least(last_day, (at AT TIME ZONE 'Asia/Shanghai')::date)::timestamp,
                             interval '1 day') d
    ),
    marked AS (  -- the days each water was marked: one of its marks meets the day's evening
        SELECT DISTINCT d.day, p.water_body_id AS id
        FROM day d JOIN patrol_water p
          ON p.marked_at < d.evening_to
         AND (p.unmarked_at IS NULL OR p.unmarked_at > d.evening_from)
    ),
    water AS (
        SELECT w.id, w.code, w.name FROM water_body w WHERE w.id IN (SELECT id FROM marked)
    ),
    walk AS (  -- each check-in's station-time day, when it is in the evening
        SELECT i.thing_id, (i.inspected_at AT TIME ZONE 'Asia/Shanghai')::date AS day,
               count(*)::int AS check_ins, array_agg(DISTINCT i.inspector) AS inspectors
        FROM inspection i
        WHERE i.kind = 'water_body' AND i.thing_id IN (SELECT id FROM water)
          AND i.inspected_at >= (first_day::timestamp AT TIME ZONE 'Asia/Shanghai')
          AND i.inspected_at < ((last_day + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')
          AND i.inspected_at >= field_evening_start(i.inspected_at)
        GROUP BY 1, 2
    ),
    cell AS (
        SELECT m.day, w.code, w.name, k.check_ins, k.inspectors
        FROM marked m JOIN water w ON w.id = m.id
        LEFT JOIN walk k ON k.thing_id = w.id AND k.day = m.day
    )
    SELECT json_build_object(
        'from', first_day, 'to', last_day,
        'waters', (SELECT coalesce(json_agg(json_build_object(
                       'code', x.code, 'name', x.name,
                       'days', (SELECT count(*) FROM cell c WHERE c.code = x.code),
                       'days_walked', (SELECT count(*) FROM cell c
                                       WHERE c.code = x.code AND c.check_ins IS NOT NULL))
                       ORDER BY x.code), '[]') FROM water x),
        'days', (SELECT coalesce(json_agg(json_build_object(
                     'date', d.day,
                     'walked', (SELECT coalesce(json_agg(json_build_object(
                                    'code', c.code, 'check_ins', c.check_ins, 'by', c.inspectors)
                                    ORDER BY c.code), '[]')
                                FROM cell c WHERE c.day = d.day AND c.check_ins IS NOT NULL),
                     'not_walked', (SELECT coalesce(json_agg(c.code ORDER BY c.code), '[]')
                                    FROM cell c WHERE c.day = d.day AND c.check_ins IS NULL))
                     ORDER BY d.day), '[]') FROM day d),
        'totals', json_build_object(
            'water_days', (SELECT count(*) FROM cell),
            'walked', (SELECT count(*) FROM cell WHERE check_ins IS NOT NULL)))
$$;
COMMENT ON FUNCTION field_patrol_days(date, date, timestamptz)
    IS 'Dusk shore patrols per day from first_day to last_day (no later than the day of at): for each day, the waters marked for patrol that day (a mark meeting its evening, 16:00 to midnight station time) walked (an evening check-in: count and who) and not walked, with per-water counts (days marked, days walked) and overall counts.';

-- Water bodies checked in this evening (from 16:00 station time of the day of at, until at).
CREATE OR REPLACE FUNCTION field_patrolled_evening(at timestamptz)
RETURNS TABLE (code text, check_ins int, last_at timestamptz, marked boolean)
LANGUAGE sql STABLE AS $$
    SELECT w.code, count(*)::int, max(i.inspected_at), field_patrol_marked(w.id, at)
    FROM inspection i JOIN water_body w ON w.id = i.thing_id
    WHERE i.kind = 'water_body' AND i.inspected_at >= field_evening_start(at)
      AND i.inspected_at <= at
    GROUP BY w.id, w.code
$$;
COMMENT ON FUNCTION field_patrolled_evening(timestamptz)
    IS 'The water bodies with a dusk patrol check-in in the evening of a moment (from 16:00 station time until then): count, last check-in, whether marked for patrol then.';

-- The water map's dusk patrol layer: the waters marked for patrol and any checked in this
-- evening (from 16:00 station time of the day of at, until at), outlines simplified to 5 m.
CREATE OR REPLACE FUNCTION field_patrol_map(at timestamptz) RETURNS json
LANGUAGE sql STABLE AS $$
    WITH evening AS (SELECT * FROM field_patrolled_evening(at)),
    shown AS (
        SELECT w.code, w.name, w.geom_metric, e.check_ins, e.last_at,
               field_patrol_marked(w.id, at) AS marked
        FROM water_body w LEFT JOIN evening e ON e.code = w.code
        WHERE e.code IS NOT NULL OR field_patrol_marked(w.id, at)
    )
    SELECT json_build_object(
        'type', 'FeatureCollection',
        'evening_from', field_evening_start(at),
        'at', at,
        'features', coalesce(json_agg(json_build_object(
            'type', 'Feature',
            'id', s.code,
            'geometry', ST_AsGeoJSON(ST_Transform(
                ST_SimplifyPreserveTopology(s.geom_metric, 5), 4326), 6)::json,
            'properties', json_build_object(
                'code', s.code, 'name', s.name, 'marked', s.marked,
                'patrolled', s.check_ins IS NOT NULL, 'check_ins', coalesce(s.check_ins, 0),
                'last_at', s.last_at)
        ) ORDER BY s.code), '[]'))
    FROM shown s
$$;
COMMENT ON FUNCTION field_patrol_map(timestamptz)
    IS 'The waters marked for dusk patrol at a moment and any checked in on the evening of a moment (from 16:00 station time until then), as GeoJSON outlines (simplified to 5 m) with patrolled, check-ins and the last one.';

-- A water marked for dusk patrol as the API answers it: its mark in force (NULL: not marked).
CREATE OR REPLACE FUNCTION field_patrol_mark_json(water_body_id int) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('code', w.code, 'name', w.name, 'marked', true,
                             'marked_at', p.marked_at)
    FROM patrol_water p JOIN water_body w ON w.id = p.water_body_id
    WHERE p.water_body_id = field_patrol_mark_json.water_body_id AND p.unmarked_at IS NULL
$$;
COMMENT ON FUNCTION field_patrol_mark_json(int)
    IS 'A water marked for dusk patrol: its code, name and when its mark in force began (NULL when not marked).';

-- The water body a planner, leader or community officer marks or unmarks for dusk patrol, by
-- code, as the owner: refused (insufficient_privilege, HINT areas) for any other role and, for a
-- community officer, outside their beats' grids; an unknown code is no_data_found (HINT code).
CREATE OR REPLACE FUNCTION field_require_patrol_water(code text) RETURNS int
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF app_role() IS NULL OR app_role() NOT IN ('planner', 'leader', 'community_officer') THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', HINT = 'areas',
            MESSAGE = format('Only a planner, leader or community officer marks waters for dusk '
                             'patrol; your areas: %s', field_areas_text());
    END IF;
    RETURN (SELECT t.thing_id FROM field_require_thing('water_body', code, true) t);
END;
$$;
COMMENT ON FUNCTION field_require_patrol_water(text)
    IS 'Id of the water body a planner, leader or community officer (a water meeting their beats'' grids) may mark for dusk patrol; unknown code: no_data_found (HINT code); otherwise refused naming the user''s areas (insufficient_privilege, HINT areas).';
REVOKE ALL ON FUNCTION field_require_patrol_water(text) FROM PUBLIC;

-- Mark a water for dusk patrol: a new mark from now on (an earlier, ended one stays as it was).
-- A water marked already keeps its mark (and its time): created false, nothing changed.
CREATE OR REPLACE FUNCTION field_mark_patrol(code text, OUT created boolean, OUT answer json)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    water int := field_require_patrol_water(code);
    n int;
BEGIN
    -- a mark in force overlaps the new one: patrol_water_no_overlap, so nothing is stored
    INSERT INTO patrol_water (water_body_id, marked_at) VALUES (water, now())
        ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    created := n > 0;
    answer := field_patrol_mark_json(water);
END;
$$;
COMMENT ON FUNCTION field_mark_patrol(text)
    IS 'Marks a water body for dusk patrol from now on by the signed-in planner, leader or community officer (their beats'' waters), a new period after any ended one: the mark, and whether this call made it (false: marked already, unchanged).';
REVOKE ALL ON FUNCTION field_mark_patrol(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION field_mark_patrol(text) TO geo_service_app;

-- Unmark a water for dusk patrol: its mark in force ends now (kept, so the days it was marked
-- still count); whether it was marked. Its check-ins are kept.
CREATE OR REPLACE FUNCTION field_unmark_patrol(code text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    water int := field_require_patrol_water(code);
    n int;
BEGIN
    UPDATE patrol_water p SET unmarked_at = now()
    WHERE p.water_body_id = water AND p.unmarked_at IS NULL AND p.marked_at < now();
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN  -- a mark made this very moment (the same transaction) ends before it began
        DELETE FROM patrol_water p
        WHERE p.water_body_id = water AND p.unmarked_at IS NULL AND p.marked_at >= now();
        GET DIAGNOSTICS n = ROW_COUNT;
    END IF;
    RETURN n > 0;
END;
$$;
COMMENT ON FUNCTION field_unmark_patrol(text)
    IS 'Takes a water body off the dusk patrol list from now on, by the signed-in planner, leader or community officer (their beats'' waters): its mark in force ends (kept: the patrol table still counts the days it was marked); whether it was on it. Its check-ins are kept.';
REVOKE ALL ON FUNCTION field_unmark_patrol(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION field_unmark_patrol(text) TO geo_service_app;
