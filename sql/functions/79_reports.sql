-- Reports that blow the whistle (网格吹哨, issue 14, migration 018): a grid worker, volunteer or
-- community officer reports a hazard, dispute or problem at a place in their areas; it is routed
-- to the department of its category and answered by that department (部门报到: accepted, then
-- closed), each step appended to its timeline. Every report and step is also written to the
-- command room's event log (70_command.sql), so it appears in the live stream.

-- Whether a point lies in the areas the signed-in user reports from: a grid worker's grids and a
-- community officer's beats' grids (by the boundary rule), a volunteer's villages.
CREATE OR REPLACE FUNCTION field_point_in_areas(p geometry) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF app_role() IN ('planner', 'leader') THEN
        RETURN true;
    ELSIF app_role() = 'community_officer' THEN
        RETURN app_grid_at(p) = ANY (app_own_grids());
    ELSIF app_role() = 'grid_worker' THEN
        RETURN app_grid_at(p) = ANY (app_grids());
    ELSIF app_role() = 'volunteer' THEN
        RETURN EXISTS (SELECT 1 FROM village v
                       WHERE v.id = ANY (app_villages()) AND ST_Intersects(v.geom, p));
    END IF;
    RETURN false;
END;
$$;
COMMENT ON FUNCTION field_point_in_areas(geometry)
    IS 'Whether a point is in the areas the signed-in user reports from: their grids (grid worker), their beats'' grids (community officer), by the boundary rule; their villages (volunteer); anywhere for planner and leader.';
REVOKE ALL ON FUNCTION field_point_in_areas(geometry) FROM PUBLIC;

-- One report as the API answers it, with its timeline and photos.
CREATE OR REPLACE FUNCTION field_report_json(report_id bigint) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', r.id, 'client_id', r.client_id, 'category', r.category,
        'category_name', c.name, 'category_name_en', c.name_en,
        'department', json_build_object('code', d.code, 'name', d.name, 'name_en', d.name_en,
                                        'kind', d.kind),
        'status', r.status, 'note', r.note,
        'place', json_build_object('lon', ST_X(r.geom), 'lat', ST_Y(r.geom)),
        'grid', (SELECT g.code FROM grid g WHERE g.id = r.grid_id),
        'village', (SELECT v.code FROM village v WHERE v.id = r.village_id),
        'reporter', r.reporter, 'reported_at', r.reported_at, 'recorded_at', r.recorded_at,
        'steps', (SELECT coalesce(json_agg(json_build_object(
                      'kind', s.kind, 'at', s.at, 'actor', s.actor, 'note', s.note,
                      'department', (SELECT x.code FROM department x WHERE x.id = s.department_id))
                      ORDER BY s.at, s.id), '[]')
                  FROM report_step s WHERE s.report_id = r.id),
        'photos', (SELECT coalesce(json_agg(json_build_object(
                       'n', p.n, 'media_type', p.media_type, 'width', p.width,
                       'height', p.height, 'bytes', octet_length(p.bytes),
                       'sha256', encode(p.sha256, 'hex'),
                       'url', format('/api/v1/reports/%s/photos/%s', r.id, p.n))
                       ORDER BY p.n), '[]')
                   FROM report_photo p WHERE p.report_id = r.id))
    FROM report r
    JOIN report_category c ON c.code = r.category
    JOIN department d ON d.id = r.department_id
    WHERE r.id = field_report_json.report_id
$$;
COMMENT ON FUNCTION field_report_json(bigint)
    IS 'One report as JSON: category, the department it is routed to, status, note, place, grid and village, reporter, its timeline of steps and its photos.';

-- Make a report with its photos, route it to its category's department (a route step) and log
-- it for the command room. A client id stored before answers the stored report, created false.
CREATE OR REPLACE FUNCTION field_report(
    body jsonb, photo_types text[], photo_widths int[], photo_heights int[],
    photo_hashes bytea[], photo_bytes bytea[],
    OUT created boolean, OUT answer json
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    who text := current_setting('geo.user_name', true);
    who_person int;
    p geometry := ST_SetSRID(ST_MakePoint((body ->> 'lon')::float8, (body ->> 'lat')::float8),
                             4326);
    at timestamptz := (body ->> 'reported_at')::timestamptz;
    cat report_category;
    gid int;
    new_id bigint;
    n int := coalesce(cardinality(photo_bytes), 0);
BEGIN
    IF who IS NULL OR who = '' OR app_role() NOT IN ('grid_worker', 'volunteer',
                                                     'community_officer') THEN
        RAISE EXCEPTION 'a report is made by a grid worker, volunteer or community officer'
            USING ERRCODE = 'insufficient_privilege', HINT = 'areas';
    END IF;
    SELECT * INTO cat FROM report_category c WHERE c.code = body ->> 'category';
    IF cat.code IS NULL THEN
        RAISE EXCEPTION 'no report category %; the categories are %', body ->> 'category',
            (SELECT string_agg(code, ', ' ORDER BY code) FROM report_category)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'category';
    END IF;
    IF at > now() + interval '10 minutes' THEN
        RAISE EXCEPTION 'reported_at % is in the future', at
            USING ERRCODE = 'invalid_parameter_value', HINT = 'reported_at';
    END IF;
    IF NOT field_point_in_areas(p) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', HINT = 'areas',
            MESSAGE = format('The place (%s, %s) is outside your areas: %s',
                             round(ST_X(p)::numeric, 6), round(ST_Y(p)::numeric, 6),
                             field_areas_text());
    END IF;
    gid := app_grid_at(p);
    SELECT u.person_id INTO who_person FROM app_user u WHERE u.name = who;
    INSERT INTO report (client_id, category, department_id, note, geom, grid_id, village_id,
                        reporter, person_id, reported_at, photos)
    VALUES ((body ->> 'client_id')::uuid, cat.code, cat.department_id, body ->> 'note', p, gid,
            (SELECT g.village_id FROM grid g WHERE g.id = gid), who, who_person, at, n)
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        SELECT r.id INTO new_id FROM report r WHERE r.client_id = (body ->> 'client_id')::uuid;
        created := false;
        answer := field_report_json(new_id);
        RETURN;
    END IF;
    created := true;
    FOR i IN 1..n LOOP
        INSERT INTO report_photo (report_id, n, media_type, width, height, sha256, bytes)
        VALUES (new_id, i, photo_types[i], photo_widths[i], photo_heights[i], photo_hashes[i],
                photo_bytes[i]);
    END LOOP;
    INSERT INTO report_step (report_id, kind, at, actor, department_id)
    VALUES (new_id, 'route', now(), 'auto', cat.department_id);
    answer := field_report_json(new_id);
END;
$$;
COMMENT ON FUNCTION field_report(jsonb, text[], int[], int[], bytea[], bytea[])
    IS 'Makes a report (client_id, category, note, reported_at, lon, lat) by the signed-in grid worker, volunteer or community officer at a place in their areas, with its photos, routed to the department of its category; a client id stored before answers the stored report with created false.';
REVOKE ALL ON FUNCTION field_report(jsonb, text[], int[], int[], bytea[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION field_report(jsonb, text[], int[], int[], bytea[], bytea[])
    TO geo_service_app;

-- Whether a user in areas scope sees a report: one they made (a grid worker or volunteer), or one
-- routed to their department (a department user). The one rule of it: the report's row-level
-- security (93_access_field.sql) and field_report_step, which reads as the owner, both ask it.
CREATE OR REPLACE FUNCTION field_sees_report(reporter text, department_id int) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT app_scope() = 'areas'
           AND (reporter = current_setting('geo.user_name', true)
                OR department_id = app_department())
$$;
COMMENT ON FUNCTION field_sees_report(text, int)
    IS 'Whether a user in areas scope sees a report: one they made, or one routed to their department (a department user).';

-- A department's answer to a report (部门报到), recorded by the department's own users (reports
-- routed to their department only: another's is no_data_found, as if it did not exist) or for it
-- by those who read every report: accept (an open report), close (an open or accepted one, with
-- what was done), or a note. A step that does not fit the report's status is refused (GS409,
-- HINT kind). A client id stored before for a step of this report answers the report as it is,
-- created false, whatever its status now (a resend after a lost answer); one stored for a step
-- of another report is refused (GS409, HINT client_id).
DROP FUNCTION IF EXISTS field_report_step(bigint, text, text, timestamptz);
CREATE OR REPLACE FUNCTION field_report_step(
    report_id bigint, kind text, note text, at timestamptz, client_id uuid,
    OUT created boolean, OUT answer json
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r report;
    next_status text;
    stored_for bigint;
    new_id bigint;
BEGIN
    IF app_role() IS NULL OR app_role() NOT IN ('command_room', 'leader', 'community_officer',
                                                'planner', 'department') THEN
        RAISE EXCEPTION 'a department''s answer is recorded by the department, or for it by the '
                        'command room, a leader, a planner or a community officer'
            USING ERRCODE = 'insufficient_privilege', HINT = 'areas';
    END IF;
    SELECT * INTO r FROM report x WHERE x.id = field_report_step.report_id FOR UPDATE;
    IF r.id IS NULL OR NOT (app_sees_all() OR field_sees_report(r.reporter, r.department_id))
    THEN
        RAISE EXCEPTION 'no report with id % that you can see', field_report_step.report_id
            USING ERRCODE = 'no_data_found', HINT = 'report_id';
    END IF;
    -- a step sent before: the report as it is now (the lock above orders the sends of one report)
    SELECT s.report_id INTO stored_for FROM report_step s
    WHERE s.client_id = field_report_step.client_id;
    IF stored_for = r.id THEN
        created := false;
        answer := field_report_json(r.id);
        RETURN;
    ELSIF stored_for IS NOT NULL THEN
        RAISE EXCEPTION 'client_id % was sent before with a step of another report; '
                        'make a new one for each step', field_report_step.client_id
            USING ERRCODE = 'GS409', HINT = 'client_id';
    END IF;
    next_status := CASE
        WHEN kind = 'accept' AND r.status = 'open' THEN 'accepted'
        WHEN kind = 'close' AND r.status IN ('open', 'accepted') THEN 'closed'
        WHEN kind = 'note' THEN r.status END;
    IF next_status IS NULL THEN
        RAISE EXCEPTION 'a report that is % cannot be given a % step', r.status, kind
            USING ERRCODE = 'GS409', HINT = 'kind',  -- a clash with what is stored
                  DETAIL = json_build_object('allowed', CASE r.status
                      WHEN 'open' THEN ARRAY['accept', 'close', 'note']
                      WHEN 'accepted' THEN ARRAY['close', 'note']
                      ELSE ARRAY['note'] END)::text;
    END IF;
    IF at > now() + interval '10 minutes' OR at < r.reported_at THEN
        RAISE EXCEPTION 'a step''s time % must lie between the report (%) and now', at,
            r.reported_at USING ERRCODE = 'invalid_parameter_value', HINT = 'at';
    END IF;
    INSERT INTO report_step (report_id, kind, at, actor, department_id, note, client_id)
    VALUES (r.id, kind, at, current_setting('geo.user_name', true), r.department_id, note,
            field_report_step.client_id)
    ON CONFLICT ON CONSTRAINT report_step_client_id_key DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN  -- the same id stored meanwhile by a step of another report
        RAISE EXCEPTION 'client_id % was sent before with a step of another report; '
                        'make a new one for each step', field_report_step.client_id
            USING ERRCODE = 'GS409', HINT = 'client_id';
    END IF;
    IF next_status <> r.status THEN
        UPDATE report x SET status = next_status WHERE x.id = r.id;
    END IF;
    created := true;
    answer := field_report_json(r.id);
END;
$$;
COMMENT ON FUNCTION field_report_step(bigint, text, text, timestamptz, uuid)
    IS 'Records a department''s answer to a report (by its department user, or by those who read every report; the actor is the signed-in user): accept (open to accepted), close (to closed) or note, at a moment between the report and now; refuses a step that does not fit its status (HINT kind). A client_id sent before with a step of this report answers the report as it is, created false (the step stored once); one sent with a step of another report is refused (HINT client_id).';
REVOKE ALL ON FUNCTION field_report_step(bigint, text, text, timestamptz, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION field_report_step(bigint, text, text, timestamptz, uuid)
    TO geo_service_app;

-- Reports as the user sees them (their own for a grid worker or volunteer, their department's
-- for a department user), newest first.
CREATE OR REPLACE FUNCTION field_reports(status text, department text, mine boolean,
                                         max_rows int) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(field_report_json(x.id) ORDER BY x.reported_at DESC, x.id DESC),
                    '[]')
    FROM (SELECT r.id, r.reported_at FROM report r
          JOIN department d ON d.id = r.department_id
          WHERE (field_reports.status IS NULL OR r.status = field_reports.status)
            AND (field_reports.department IS NULL OR d.code = field_reports.department)
            AND (NOT mine OR r.reporter = current_setting('geo.user_name', true))
          ORDER BY r.reported_at DESC, r.id DESC LIMIT max_rows) x
$$;
COMMENT ON FUNCTION field_reports(text, text, boolean, int)
    IS 'Reports the user sees, newest first (at most max_rows), by status and department code, or only their own (mine).';

-- One report the user sees: no_data_found (HINT report_id) otherwise.
CREATE OR REPLACE FUNCTION field_report_of(report_id bigint) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    answer json := field_report_json(report_id);
BEGIN
    IF answer IS NULL THEN
        RAISE EXCEPTION 'no report with id % that you can see', report_id
            USING ERRCODE = 'no_data_found', HINT = 'report_id';
    END IF;
    RETURN answer;
END;
$$;
COMMENT ON FUNCTION field_report_of(bigint)
    IS 'One report the user sees (a grid worker or volunteer: their own; a department user: their department''s), as JSON; no_data_found (HINT report_id) when none.';

CREATE OR REPLACE FUNCTION field_report_photo(report_id bigint, n int)
RETURNS TABLE (media_type text, bytes bytea)
LANGUAGE sql STABLE AS $$
    SELECT p.media_type, p.bytes FROM report_photo p
    WHERE p.report_id = field_report_photo.report_id AND p.n = field_report_photo.n
$$;
COMMENT ON FUNCTION field_report_photo(bigint, int)
    IS 'Media type and bytes of photo n of a report, if the user sees the report.';

CREATE OR REPLACE FUNCTION field_departments() RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object(
        'code', d.code, 'name', d.name, 'name_en', d.name_en, 'kind', d.kind,
        'categories', (SELECT coalesce(json_agg(json_build_object(
                           'code', c.code, 'name', c.name, 'name_en', c.name_en)
                           ORDER BY c.code), '[]')
                       FROM report_category c WHERE c.department_id = d.id))
        ORDER BY d.id), '[]')
    FROM department d
$$;
COMMENT ON FUNCTION field_departments()
    IS 'The departments reports are routed to (station, town departments, response team), each with the report categories it answers.';

-- The command room's log (70_command.sql): a report made, its status changed, a step added.
CREATE OR REPLACE FUNCTION command_log_report() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM command_log('report', NULL, NULL, NEW.grid_id, jsonb_build_object(
        'report_id', NEW.id, 'category', NEW.category,
        'department', (SELECT d.code FROM department d WHERE d.id = NEW.department_id),
        'status', NEW.status, 'reported_at', NEW.reported_at, 'reporter', NEW.reporter,
        'lon', ST_X(NEW.geom), 'lat', ST_Y(NEW.geom), 'op', lower(TG_OP)));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION command_log_report_step() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record;
BEGIN
    SELECT x.grid_id, x.status INTO r FROM report x WHERE x.id = NEW.report_id;
    PERFORM command_log('report_step', NULL, NULL, r.grid_id, jsonb_build_object(
        'report_id', NEW.report_id, 'step', NEW.kind, 'at', NEW.at, 'actor', NEW.actor,
        'department', (SELECT d.code FROM department d WHERE d.id = NEW.department_id)));
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS report_logged ON report;
CREATE TRIGGER report_logged AFTER INSERT OR UPDATE OF status ON report
    FOR EACH ROW WHEN (command_logging()) EXECUTE FUNCTION command_log_report();
DROP TRIGGER IF EXISTS report_step_logged ON report_step;
CREATE TRIGGER report_step_logged AFTER INSERT ON report_step
    FOR EACH ROW WHEN (command_logging()) EXECUTE FUNCTION command_log_report_step();
