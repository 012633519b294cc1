-- Who is asking: app_enter checks a session or token and sets the request's context, which the
-- row-level security of 90_access.sql and the phone masking read through the app_* helpers.
-- Every setting is transaction-local: the context ends with the request's transaction.

CREATE OR REPLACE FUNCTION app_role() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('geo.role', true), '')
$$;
COMMENT ON FUNCTION app_role()
    IS 'Role of the signed-in user of this transaction (geo.role), NULL when none is set.';

CREATE OR REPLACE FUNCTION app_scope() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('geo.scope', true), ''), 'none')
$$;
COMMENT ON FUNCTION app_scope()
    IS 'What the user of this transaction sees: station (all of it), areas (geo.grids and geo.villages only) or none.';

CREATE OR REPLACE FUNCTION app_grids() RETURNS int[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('geo.grids', true), ''), '{}')::int[]
$$;
COMMENT ON FUNCTION app_grids()
    IS 'Ids of the grids a user in areas scope sees (their grid_worker assignments in force).';

CREATE OR REPLACE FUNCTION app_villages() RETURNS int[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('geo.villages', true), ''), '{}')::int[]
$$;
COMMENT ON FUNCTION app_villages()
    IS 'Ids of the villages a user in areas scope sees (a grid worker''s grids'' villages, a volunteer''s villages).';

CREATE OR REPLACE FUNCTION app_department() RETURNS int
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('geo.department', true), '')::int
$$;
COMMENT ON FUNCTION app_department()
    IS 'Id of the department a department user answers for (geo.department), NULL for every other user.';

CREATE OR REPLACE FUNCTION app_own_people() RETURNS int[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('geo.own_people', true), ''), '{}')::int[]
$$;
COMMENT ON FUNCTION app_own_people()
    IS 'Ids of the people covering the user''s own areas, whose phones the user sees in full.';

CREATE OR REPLACE FUNCTION app_mask_phone(phone text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN phone IS NULL THEN NULL
                WHEN length(phone) < 8 THEN repeat('*', length(phone))
                ELSE left(phone, 3) || '****' || right(phone, 4) END
$$;
COMMENT ON FUNCTION app_mask_phone(text)
    IS 'A phone number masked as 138****5678 (first three, four stars, last four).';

CREATE OR REPLACE FUNCTION app_phone(person_id int, phone text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        -- the operator's own connection (command line: exports, backups) has no user
        WHEN app_role() IS NULL AND current_user <> 'geo_service_app' THEN phone
        WHEN app_role() IN ('leader', 'command_room') THEN phone
        WHEN person_id = ANY (app_own_people()) THEN phone
        ELSE app_mask_phone(phone) END
$$;
COMMENT ON FUNCTION app_phone(int, text)
    IS 'A person''s phone as this user may see it: full for leader, command_room and the people covering the user''s own areas, else masked.';

CREATE OR REPLACE FUNCTION app_enter(
    kind text, secret_hash bytea, idle interval, absolute interval
)
RETURNS TABLE (
    user_id int, name text, role text, person_code text, scope text, areas json,
    second_factor_ok boolean, totp_enrolled boolean
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    uid int;
    u app_user;
    ok2 boolean;
    own_grids int[] := '{}';
    grids int[] := '{}';
    villages int[] := '{}';
    people int[] := '{}';
    the_scope text;
    plan int;  -- the plan in force, asked only for the roles whose own areas depend on it
BEGIN
    IF kind = 'session' THEN
        SELECT s.user_id, s.second_factor_ok INTO uid, ok2
        FROM user_session s
        WHERE s.secret_hash = app_enter.secret_hash AND s.revoked_at IS NULL
          AND s.last_seen_at > now() - idle AND s.created_at > now() - absolute;
        -- idle time is counted to the minute: one write a minute, not one a request
        -- (SKIP LOCKED: a request never waits on another of the same session for this)
        UPDATE user_session s SET last_seen_at = now()
        WHERE s.secret_hash IN (
            SELECT x.secret_hash FROM user_session x
            WHERE uid IS NOT NULL AND x.secret_hash = app_enter.secret_hash
              AND x.last_seen_at < now() - interval '1 minute'
            FOR UPDATE SKIP LOCKED);
    ELSIF kind = 'token' THEN
        SELECT t.user_id INTO uid
        FROM api_token t
        WHERE t.secret_hash = app_enter.secret_hash AND t.revoked_at IS NULL
          AND t.expires_at > now();
        ok2 := true;  -- a token is made by a user who signed in fully, or by the operator
        UPDATE api_token t SET last_used_at = now()
        WHERE t.id IN (
            SELECT x.id FROM api_token x
            WHERE uid IS NOT NULL AND x.secret_hash = app_enter.secret_hash
              AND (x.last_used_at IS NULL OR x.last_used_at < now() - interval '1 minute')
            FOR UPDATE SKIP LOCKED);
    END IF;
    SELECT * INTO u FROM app_user a WHERE a.id = uid;
    IF u.id IS NULL OR u.removed_at IS NOT NULL OR u.locked
       OR (u.locked_until IS NOT NULL AND u.locked_until > now()) THEN
        RETURN;  -- no row: not signed in
    END IF;

    IF u.role IN ('community_officer', 'grid_worker') THEN
        plan := plan_in_force(now());
    END IF;
    IF u.role IN ('leader', 'command_room', 'planner', 'community_officer') THEN
        the_scope := 'station';
    ELSIF u.role IN ('grid_worker', 'volunteer', 'department') THEN
        -- a department user is in areas scope with no grid and no village: of the station's
        -- data they see only their department's reports (geo.department, 93_access_field.sql)
        the_scope := 'areas';
    ELSE
        the_scope := 'none';
    END IF;

    IF u.role = 'grid_worker' THEN
        SELECT coalesce(array_agg(DISTINCT a.grid_id), '{}') INTO own_grids
        FROM assignment a
        WHERE a.person_id = u.person_id AND a.role = 'grid_worker' AND a.area_kind = 'grid'
          AND a.validity @> now();
        grids := own_grids;
        SELECT coalesce(array_agg(DISTINCT g.village_id), '{}') INTO villages
        FROM grid g WHERE g.id = ANY (grids);
    ELSIF u.role = 'volunteer' THEN
        SELECT coalesce(array_agg(DISTINCT a.village_id), '{}') INTO villages
        FROM assignment a
        WHERE a.person_id = u.person_id AND a.role = 'volunteer' AND a.area_kind = 'village'
          AND a.validity @> now();
    ELSIF u.role = 'community_officer' THEN
        SELECT coalesce(array_agg(DISTINCT bg.grid_id), '{}') INTO own_grids
        FROM assignment a JOIN beat_grid bg ON bg.beat_id = a.beat_id AND bg.plan_id = plan
        WHERE a.person_id = u.person_id AND a.area_kind = 'beat' AND a.validity @> now();
    END IF;

    IF cardinality(own_grids) > 0 THEN
        -- one arm per area index (an OR of the four reads every assignment of the station:
        -- 25,800 rows at the county's scale, on every request of a grid worker)
        SELECT coalesce(array_agg(DISTINCT x.person_id), '{}') INTO people
        FROM (
            SELECT a.person_id, a.validity FROM assignment a
            WHERE a.grid_id = ANY (own_grids)
            UNION ALL
            SELECT a.person_id, a.validity FROM assignment a
            WHERE a.village_id IN (SELECT g.village_id FROM grid g WHERE g.id = ANY (own_grids))
            UNION ALL
            SELECT a.person_id, a.validity FROM assignment a
            WHERE a.beat_id IN (SELECT bg.beat_id FROM beat_grid bg
                                WHERE bg.plan_id = plan AND bg.grid_id = ANY (own_grids))
            UNION ALL
            SELECT a.person_id, a.validity FROM assignment a WHERE a.area_kind = 'station'
        ) x
        WHERE x.validity @> now();
    END IF;

    PERFORM set_config('geo.user_id', u.id::text, true),
            set_config('geo.user_name', u.name, true),
            set_config('geo.role', u.role, true),
            set_config('geo.scope', the_scope, true),
            set_config('geo.grids', grids::text, true),
            set_config('geo.villages', villages::text, true),
            set_config('geo.own_people', people::text, true),
            set_config('geo.own_grids', own_grids::text, true),
            set_config('geo.department', coalesce(u.department_id::text, ''), true);

    RETURN QUERY
    SELECT u.id, u.name, u.role, (SELECT p.code FROM person p WHERE p.id = u.person_id),
           the_scope,
           (SELECT coalesce(json_agg(x ORDER BY x.kind, x.code), '[]')
            FROM (SELECT 'grid' AS kind, g.code, g.name FROM grid g
                  WHERE g.id = ANY (CASE WHEN u.role = 'grid_worker' THEN grids ELSE own_grids END)
                  UNION ALL
                  SELECT 'village', v.code, v.name FROM village v
                  WHERE u.role = 'volunteer' AND v.id = ANY (villages)
                  UNION ALL
                  SELECT 'department', d.code, d.name FROM department d
                  WHERE d.id = u.department_id) x),
           coalesce(ok2, false), u.totp_secret IS NOT NULL;
END;
$$;
COMMENT ON FUNCTION app_enter(text, bytea, interval, interval)
    IS 'Checks a session (kind session) or API token (kind token) by the SHA-256 of its secret and, when valid, sets the transaction''s context (geo.user_id, geo.user_name, geo.role, geo.scope, geo.grids, geo.villages, geo.own_people, geo.own_grids, geo.department) and answers the user with their areas (a department user: their department); no row when the credential is unknown, expired, revoked or its user locked or removed.';

REVOKE ALL ON FUNCTION app_enter(text, bytea, interval, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_enter(text, bytea, interval, interval) TO geo_service_app;

-- The service signs users in, keeps sessions and tokens and administers users itself; only the
-- admin's pages reach the user administration (geo_service/accounts/access.py).
GRANT SELECT, INSERT, UPDATE ON app_user, user_session, api_token TO geo_service_app;
GRANT USAGE ON SEQUENCE app_user_id_seq, api_token_id_seq TO geo_service_app;

CREATE OR REPLACE FUNCTION app_reveal_phone(person_code text)
RETURNS TABLE (code text, name text, phone text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF app_role() IS DISTINCT FROM 'planner' AND app_role() IS DISTINCT FROM 'community_officer' THEN
        RAISE EXCEPTION 'only a planner or a community officer asks to see a phone in full'
            USING ERRCODE = 'insufficient_privilege', HINT = 'areas';
    END IF;
    RETURN QUERY SELECT p.code, p.name, p.phone FROM person p WHERE p.code = person_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no person with code %', person_code
            USING ERRCODE = 'no_data_found', HINT = 'code';
    END IF;
END;
$$;
COMMENT ON FUNCTION app_reveal_phone(text)
    IS 'A person''s phone in full, for a planner or community officer who asked with a reason (the service writes the reason to the audit trail in the same transaction).';
REVOKE ALL ON FUNCTION app_reveal_phone(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_reveal_phone(text) TO geo_service_app;

-- The admin ties accounts to people without seeing the station's data (their scope is none):
-- codes and ids of people are resolved as the owner, nothing else about them is answered.
CREATE OR REPLACE FUNCTION app_person_id(person_code text) RETURNS int
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT id FROM person WHERE code = person_code
$$;
COMMENT ON FUNCTION app_person_id(text)
    IS 'Id of the person with this code (NULL if none), for tying an account to a person.';

CREATE OR REPLACE FUNCTION app_person_code(person_id int) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT code FROM person WHERE id = person_id
$$;
COMMENT ON FUNCTION app_person_code(int)
    IS 'Code of the person an account is tied to, for the admin''s list of users.';

-- The admin ties department accounts to departments without seeing the station's data.
CREATE OR REPLACE FUNCTION app_department_id(department_code text) RETURNS int
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT id FROM department WHERE code = department_code
$$;
COMMENT ON FUNCTION app_department_id(text)
    IS 'Id of the department with this code (NULL if none), for tying an account to a department.';

CREATE OR REPLACE FUNCTION app_department_codes() RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(array_agg(code ORDER BY id), '{}') FROM department
$$;
COMMENT ON FUNCTION app_department_codes()
    IS 'The codes of the departments, for the admin''s error naming the ones to choose from.';

CREATE OR REPLACE FUNCTION app_department_code(department_id int) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT code FROM department WHERE id = department_id
$$;
COMMENT ON FUNCTION app_department_code(int)
    IS 'Code of the department an account is tied to, for the admin''s list of users.';
