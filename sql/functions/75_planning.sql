-- Beat planning (issue 13): drafts made from a plan, edited with the version they were based on,
-- compared, and published on a date. Each edit is one call: it locks the plan's row (two
-- planners' edits take turns), checks the version the editor saw, applies the change and writes
-- it to plan_change with the plan's next version. An edit that cannot be made answers
-- {"refused": kind, "detail": ..., ...} and changes nothing: kind stale (with what changed
-- since the version given), published (published plans never change), locked, not_empty (a
-- conflict with what is stored) or invalid (the request names what does not exist). Codes that
-- name no plan raise no_data_found with the parameter in HINT (a 404).
--
-- Contiguity: a beat is contiguous when the union of its grids is one polygon (grids that share
-- an edge; two grids meeting at a corner only are not joined).

CREATE OR REPLACE FUNCTION plan_actor() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('geo.user_name', true), ''), 'cli:' || current_user)
$$;
COMMENT ON FUNCTION plan_actor()
    IS 'Who makes a plan change: the signed-in user of this transaction, or cli:<database user>.';

CREATE OR REPLACE FUNCTION plan_named(plan_code text, parameter text DEFAULT 'code')
RETURNS beat_plan
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p beat_plan;
BEGIN
    SELECT * INTO p FROM beat_plan WHERE code = plan_code;
    IF p.id IS NULL THEN
        RAISE EXCEPTION 'No beat plan has the code %', plan_code
            USING ERRCODE = 'no_data_found', HINT = parameter;
    END IF;
    RETURN p;
END;
$$;
COMMENT ON FUNCTION plan_named(text, text)
    IS 'The beat plan with this code; no_data_found with HINT naming the parameter when none has it.';

-- The plan row locked for an edit, and why the edit may not go on (NULL when it may).
CREATE OR REPLACE FUNCTION plan_take(plan_code text, base_version int, OUT p beat_plan,
                                     OUT refusal jsonb)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    p := plan_named(plan_code);
    SELECT * INTO p FROM beat_plan WHERE id = p.id FOR UPDATE;
    IF p.status = 'published' THEN
        refusal := jsonb_build_object(
            'refused', 'published',
            'detail', format('Beat plan %s is published (in force from %s): published plans '
                             'never change; make a draft from it (POST /api/v1/plans)',
                             p.code, p.effective_from));
    ELSIF base_version IS NOT NULL AND base_version <> p.version THEN
        refusal := jsonb_build_object(
            'refused', 'stale',
            'detail', format('Beat plan %s is at version %s, not %s: it changed meanwhile; '
                             'look at the changes, then apply yours to version %s',
                             p.code, p.version, base_version, p.version),
            'version', p.version,
            'changes', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                   'version', c.version, 'at', c.at, 'actor', c.actor,
                                   'kind', c.kind, 'detail', c.detail) ORDER BY c.version), '[]')
                        FROM plan_change c
                        WHERE c.plan_id = p.id AND c.version > base_version));
    END IF;
END;
$$;
COMMENT ON FUNCTION plan_take(text, int)
    IS 'Locks a beat plan for an edit (FOR UPDATE) and says why the edit may not go on: published, or stale (the version given is not the stored one; with the changes made since). NULL refusal when it may.';


CREATE OR REPLACE FUNCTION plan_bump(the_plan int, change_kind text, change jsonb)
RETURNS int
LANGUAGE sql VOLATILE AS $$
    WITH bumped AS (
        UPDATE beat_plan SET version = version + 1 WHERE id = the_plan RETURNING id, version
    )
    INSERT INTO plan_change (plan_id, version, actor, kind, detail)
    SELECT id, version, plan_actor(), change_kind, change FROM bumped
    RETURNING version
$$;
COMMENT ON FUNCTION plan_bump(int, text, jsonb)
    IS 'Raises a plan''s version by one and records the change (kind, detail, who) under it; returns the new version.';

-- A beat's community officer for its plan: the one the plan names, else the one assigned to the
-- beat (in force now first, then the latest).
CREATE OR REPLACE FUNCTION beat_officer(the_beat int) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT officer_id FROM beat WHERE id = the_beat),
        (SELECT a.person_id FROM assignment a
         WHERE a.beat_id = the_beat AND a.role = 'community_officer'
         ORDER BY a.validity @> now() DESC, a.valid_from DESC LIMIT 1))
$$;
COMMENT ON FUNCTION beat_officer(int)
    IS 'Person id of a beat''s community officer for its plan: the officer the plan names, else the one assigned to the beat (in force now first, then the latest); NULL if none.';

CREATE OR REPLACE FUNCTION plan_create(new_code text, new_name text, source_code text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    src beat_plan;
    made int;
BEGIN
    IF source_code IS NULL THEN
        SELECT * INTO src FROM plan_at(now());
        IF src.id IS NULL THEN
            RAISE EXCEPTION 'No beat plan is in force now to make a draft from'
                USING ERRCODE = 'no_data_found', HINT = 'source';
        END IF;
    ELSE
        src := plan_named(source_code, 'source');
    END IF;
    IF EXISTS (SELECT 1 FROM beat_plan WHERE code = new_code) THEN
        RETURN jsonb_build_object('refused', 'taken', 'parameter', 'code',
            'detail', format('A beat plan already has the code %s: choose another', new_code));
    END IF;
    INSERT INTO beat_plan (code, name, status, based_on, created_by)
    VALUES (new_code, new_name, 'draft', src.id, plan_actor())
    RETURNING id INTO made;
    INSERT INTO beat (plan_id, code, name, officer_id, locked)
    SELECT made, b.code, b.name, beat_officer(b.id), b.locked
    FROM beat b WHERE b.plan_id = src.id;
    INSERT INTO beat_grid (plan_id, grid_id, beat_id, locked)
    SELECT made, bg.grid_id, nb.id, bg.locked
    FROM beat_grid bg
    JOIN beat ob ON ob.id = bg.beat_id
    JOIN beat nb ON nb.plan_id = made AND nb.code = ob.code
    WHERE bg.plan_id = src.id;
    INSERT INTO plan_change (plan_id, version, actor, kind, detail)
    VALUES (made, 1, plan_actor(), 'create',
            jsonb_build_object('from', src.code, 'from_version', src.version));
    RETURN jsonb_build_object('code', new_code, 'version', 1, 'based_on', src.code);
END;
$$;
COMMENT ON FUNCTION plan_create(text, text, text)
    IS 'Makes a draft beat plan (version 1) as a copy of another plan (default: the one in force now): its beats with their community officers and locks, and every grid''s beat. Refused (taken) when the code is in use.';

CREATE OR REPLACE FUNCTION plan_summary(p beat_plan) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'code', p.code, 'name', p.name, 'status', p.status,
        'effective_from', p.effective_from, 'version', p.version,
        'based_on', (SELECT code FROM beat_plan WHERE id = p.based_on),
        'created_at', p.created_at, 'created_by', p.created_by,
        'published_by', p.published_by, 'published_at', p.published_at,
        'in_force', p.id IS NOT DISTINCT FROM plan_in_force(now()),
        'beats', (SELECT count(*) FROM beat WHERE plan_id = p.id))
$$;
COMMENT ON FUNCTION plan_summary(beat_plan)
    IS 'A beat plan''s code, name, status, effective_from, version, the plan it was based on, who made and published it, whether it is in force now and its number of beats.';

CREATE OR REPLACE FUNCTION plan_list() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(plan_summary(p)
                              ORDER BY p.status DESC, p.effective_from DESC NULLS LAST, p.code),
                    '[]')
    FROM beat_plan p
$$;
COMMENT ON FUNCTION plan_list()
    IS 'Every beat plan (published ones first, newest first, then drafts) as plan_summary.';

CREATE OR REPLACE FUNCTION plan_document(plan_code text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH p AS (SELECT * FROM plan_named(plan_code))
    SELECT plan_summary(p) || jsonb_build_object(
        'beats', (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'code', b.code, 'name', b.name, 'locked', b.locked,
                       'officer', (SELECT jsonb_build_object('code', pe.code, 'name', pe.name)
                                   FROM person pe WHERE pe.id = beat_officer(b.id)),
                       'grids', (SELECT coalesce(jsonb_agg(g.code ORDER BY g.code), '[]')
                                 FROM beat_grid bg JOIN grid g ON g.id = bg.grid_id
                                 WHERE bg.beat_id = b.id))
                   ORDER BY b.code), '[]')
            FROM beat b WHERE b.plan_id = p.id),
        'locked_grids', (
            SELECT coalesce(jsonb_agg(g.code ORDER BY g.code), '[]')
            FROM beat_grid bg JOIN grid g ON g.id = bg.grid_id
            WHERE bg.plan_id = p.id AND bg.locked),
        'grids_without_beat', (
            SELECT coalesce(jsonb_agg(g.code ORDER BY g.code), '[]')
            FROM grid g
            WHERE NOT EXISTS (SELECT 1 FROM beat_grid bg
                              WHERE bg.plan_id = p.id AND bg.grid_id = g.id)))
    FROM p
$$;
COMMENT ON FUNCTION plan_document(text)
    IS 'One beat plan: its summary, its beats (code, name, lock, community officer, grid codes), its locked grids and the grids in none of its beats.';

-- The people a beat of a plan may be given as its community officer (the role
-- community_officer, as plan_edit_beats checks), each with the beats of that plan they are the
-- community officer of (the plan's choice, else the beat's assignment, as plan_document says).
CREATE OR REPLACE FUNCTION plan_officers(plan_code text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH p AS (SELECT * FROM plan_named(plan_code)),
    held AS (
        SELECT beat_officer(b.id) AS person_id, b.code
        FROM beat b, p WHERE b.plan_id = p.id)
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'code', pe.code, 'name', pe.name,
               'beats', (SELECT coalesce(jsonb_agg(h.code ORDER BY h.code), '[]')
                         FROM held h WHERE h.person_id = pe.id))
           ORDER BY pe.code), '[]')
    FROM person pe, p
    WHERE pe.role = 'community_officer'
$$;
COMMENT ON FUNCTION plan_officers(text)
    IS 'The community officers a beat of the plan may be given (code, name), each with the codes of the plan''s beats they are the community officer of; no_data_found (404) for an unknown plan.';

-- Moves: [{"grid": code, "beat": code or null (out of every beat)}, ...].
CREATE OR REPLACE FUNCTION plan_move_grids(plan_code text, base_version int, moves jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET client_min_messages = warning  -- not "plan_move already exists" on a second call
AS $$
DECLARE
    t record;
    bad text[];
    done jsonb;
    n int;
BEGIN
    SELECT * INTO t FROM plan_take(plan_code, base_version);
    IF t.refusal IS NOT NULL THEN
        RETURN t.refusal;
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS plan_move (
        ord int, grid_code text, beat_code text, grid_id int, beat_id int, from_beat int,
        grid_locked boolean, from_locked boolean, to_locked boolean
    ) ON COMMIT DROP;
    TRUNCATE plan_move;
    INSERT INTO plan_move (ord, grid_code, beat_code)
    SELECT m.ord, m.v ->> 'grid', m.v ->> 'beat'
    FROM jsonb_array_elements(moves) WITH ORDINALITY AS m(v, ord);
    UPDATE plan_move m SET grid_id = g.id FROM grid g WHERE g.code = m.grid_code;
    UPDATE plan_move m SET beat_id = b.id, to_locked = b.locked
    FROM beat b WHERE b.plan_id = (t.p).id AND b.code = m.beat_code;
    UPDATE plan_move m SET from_beat = bg.beat_id, grid_locked = bg.locked, from_locked = b.locked
    FROM beat_grid bg JOIN beat b ON b.id = bg.beat_id
    WHERE bg.plan_id = (t.p).id AND bg.grid_id = m.grid_id;

    SELECT array_agg(DISTINCT coalesce(grid_code, '(none)')) INTO bad
    FROM plan_move WHERE grid_id IS NULL;
    IF bad IS NOT NULL THEN
        RETURN jsonb_build_object('refused', 'invalid', 'parameter', 'moves',
            'detail', format('No grid has the code %s', array_to_string(bad, ', ')),
            'grids', to_jsonb(bad));
    END IF;
    SELECT array_agg(DISTINCT beat_code) INTO bad
    FROM plan_move WHERE beat_code IS NOT NULL AND beat_id IS NULL;
    IF bad IS NOT NULL THEN
        RETURN jsonb_build_object('refused', 'invalid', 'parameter', 'moves',
            'detail', format('Beat plan %s has no beat %s', (t.p).code, array_to_string(bad, ', ')),
            'beats', to_jsonb(bad));
    END IF;
    SELECT array_agg(grid_code ORDER BY grid_code) INTO bad
    FROM (SELECT grid_code FROM plan_move GROUP BY grid_code HAVING count(*) > 1) d;
    IF bad IS NOT NULL THEN
        RETURN jsonb_build_object('refused', 'invalid', 'parameter', 'moves',
            'detail', format('Grids moved twice in one request: %s', array_to_string(bad, ', ')),
            'grids', to_jsonb(bad));
    END IF;
    DELETE FROM plan_move WHERE beat_id IS NOT DISTINCT FROM from_beat;  -- already there
    SELECT array_agg(grid_code ORDER BY grid_code) INTO bad
    FROM plan_move WHERE grid_locked OR from_locked OR to_locked;
    IF bad IS NOT NULL THEN
        RETURN jsonb_build_object('refused', 'locked',
            'detail', format('Locked in beat plan %s (the grid, its beat or the beat it would '
                             'go to): %s; unlock first', (t.p).code, array_to_string(bad, ', ')),
            'grids', to_jsonb(bad));
    END IF;
    SELECT count(*) INTO n FROM plan_move;
    IF n = 0 THEN
        RETURN jsonb_build_object('code', (t.p).code, 'version', (t.p).version, 'moved', '[]'::jsonb);
    END IF;

    DELETE FROM beat_grid bg USING plan_move m
    WHERE bg.plan_id = (t.p).id AND bg.grid_id = m.grid_id AND m.beat_id IS NULL;
    INSERT INTO beat_grid (plan_id, grid_id, beat_id)
    SELECT (t.p).id, m.grid_id, m.beat_id FROM plan_move m WHERE m.beat_id IS NOT NULL
    ON CONFLICT (plan_id, grid_id) DO UPDATE SET beat_id = excluded.beat_id;

    SELECT jsonb_agg(jsonb_build_object('grid', m.grid_code, 'from', fb.code, 'to', m.beat_code)
                     ORDER BY m.grid_code)
    INTO done
    FROM plan_move m LEFT JOIN beat fb ON fb.id = m.from_beat;
    RETURN jsonb_build_object('code', (t.p).code,
                              'version', plan_bump((t.p).id, 'move', jsonb_build_object('moves', done)),
                              'moved', done);
END;
$$;
COMMENT ON FUNCTION plan_move_grids(text, int, jsonb)
    IS 'Applies moves [{grid, beat (null: out of every beat)}] to a draft at the version given, all or none; refused when stale, published, a code names nothing (invalid) or a grid, its beat or the beat it would go to is locked. Answers the new version and the moves made (from, to).';

-- Changes: [{"op": "add", "beat", "name"}, {"op": "remove", "beat"}, {"op": "rename", "beat",
-- "name"}, {"op": "officer", "beat", "person": code or null}], applied in order, all or none.
CREATE OR REPLACE FUNCTION plan_edit_beats(plan_code text, base_version int, changes jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t record;
    c jsonb;
    op text;
    the_beat beat;
    person_id int;
    person_role text;
    grids text[];
BEGIN
    SELECT * INTO t FROM plan_take(plan_code, base_version);
    IF t.refusal IS NOT NULL THEN
        RETURN t.refusal;
    END IF;
    FOR c IN SELECT v FROM jsonb_array_elements(changes) v LOOP
        op := c ->> 'op';
        SELECT * INTO the_beat FROM beat WHERE plan_id = (t.p).id AND code = c ->> 'beat';
        IF op = 'add' THEN
            IF the_beat.id IS NOT NULL THEN
                RETURN jsonb_build_object('refused', 'invalid', 'parameter', 'changes',
                    'detail', format('Beat plan %s already has a beat %s', (t.p).code, c ->> 'beat'));
            END IF;
            INSERT INTO beat (plan_id, code, name) VALUES ((t.p).id, c ->> 'beat', c ->> 'name');
            CONTINUE;
        END IF;
        IF the_beat.id IS NULL THEN
            RETURN jsonb_build_object('refused', 'invalid', 'parameter', 'changes',
                'detail', format('Beat plan %s has no beat %s', (t.p).code, c ->> 'beat'));
        END IF;
        IF op = 'remove' THEN
            SELECT array_agg(g.code ORDER BY g.code) INTO grids
            FROM beat_grid bg JOIN grid g ON g.id = bg.grid_id WHERE bg.beat_id = the_beat.id;
            IF grids IS NOT NULL THEN
                RETURN jsonb_build_object('refused', 'not_empty',
                    'detail', format('Beat %s still has %s grids (%s): move them to other beats '
                                     'first', the_beat.code, cardinality(grids),
                                     array_to_string(grids[1:10], ', ')
                                     || CASE WHEN cardinality(grids) > 10 THEN ', ...' ELSE '' END),
                    'grids', to_jsonb(grids));
            END IF;
            IF the_beat.locked THEN
                RETURN jsonb_build_object('refused', 'locked',
                    'detail', format('Beat %s is locked: unlock it first', the_beat.code));
            END IF;
            IF EXISTS (SELECT 1 FROM assignment a WHERE a.beat_id = the_beat.id) THEN
                RETURN jsonb_build_object('refused', 'not_empty',
                    'detail', format('Beat %s has assignments (history): it cannot be removed',
                                     the_beat.code));
            END IF;
            DELETE FROM beat WHERE id = the_beat.id;
        ELSIF op = 'rename' THEN
            UPDATE beat SET name = c ->> 'name' WHERE id = the_beat.id;
        ELSIF op = 'officer' THEN
            person_id := NULL;
            IF c ->> 'person' IS NOT NULL THEN
                SELECT pe.id, pe.role INTO person_id, person_role
                FROM person pe WHERE pe.code = c ->> 'person';
                IF person_id IS NULL OR person_role <> 'community_officer' THEN
                    RETURN jsonb_build_object('refused', 'invalid', 'parameter', 'changes',
                        'detail', format('%s is not a community officer''s person code',
                                         c ->> 'person'));
                END IF;
            END IF;
            UPDATE beat SET officer_id = person_id WHERE id = the_beat.id;
        ELSE
            RETURN jsonb_build_object('refused', 'invalid', 'parameter', 'changes',
                'detail', format('Unknown change %s: add, remove, rename or officer', op));
        END IF;
    END LOOP;
    RETURN jsonb_build_object('code', (t.p).code,
                              'version', plan_bump((t.p).id, 'beats',
                                                   jsonb_build_object('changes', changes)));
END;
$$;
COMMENT ON FUNCTION plan_edit_beats(text, int, jsonb)
    IS 'Adds, removes (only empty, unlocked ones with no assignment), renames beats of a draft and gives them their community officer, in order, all or none, at the version given; answers the new version or a refusal (stale, published, invalid, not_empty, locked).';

-- Locks: {"grids": {code: true|false}, "beats": {code: true|false}}.
CREATE OR REPLACE FUNCTION plan_set_locks(plan_code text, base_version int, grids jsonb,
                                          beats jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t record;
    bad text[];
BEGIN
    SELECT * INTO t FROM plan_take(plan_code, base_version);
    IF t.refusal IS NOT NULL THEN
        RETURN t.refusal;
    END IF;
    SELECT array_agg(k.key ORDER BY k.key) INTO bad
    FROM jsonb_each(coalesce(grids, '{}')) k
    WHERE NOT EXISTS (SELECT 1 FROM beat_grid bg JOIN grid g ON g.id = bg.grid_id
                      WHERE bg.plan_id = (t.p).id AND g.code = k.key);
    IF bad IS NOT NULL THEN
        RETURN jsonb_build_object('refused', 'invalid', 'parameter', 'grids',
            'detail', format('Not a grid of a beat of plan %s (only those can be locked): %s',
                             (t.p).code, array_to_string(bad, ', ')),
            'grids', to_jsonb(bad));
    END IF;
    SELECT array_agg(k.key ORDER BY k.key) INTO bad
    FROM jsonb_each(coalesce(beats, '{}')) k
    WHERE NOT EXISTS (SELECT 1 FROM beat b WHERE b.plan_id = (t.p).id AND b.code = k.key);
    IF bad IS NOT NULL THEN
        RETURN jsonb_build_object('refused', 'invalid', 'parameter', 'beats',
            'detail', format('Beat plan %s has no beat %s', (t.p).code, array_to_string(bad, ', ')),
            'beats', to_jsonb(bad));
    END IF;
    IF coalesce(grids, '{}') = '{}' AND coalesce(beats, '{}') = '{}' THEN
        RETURN jsonb_build_object('code', (t.p).code, 'version', (t.p).version);
    END IF;
    UPDATE beat_grid bg SET locked = (k.value)::text::boolean
    FROM jsonb_each(coalesce(grids, '{}')) k JOIN grid g ON g.code = k.key
    WHERE bg.plan_id = (t.p).id AND bg.grid_id = g.id;
    UPDATE beat b SET locked = (k.value)::text::boolean
    FROM jsonb_each(coalesce(beats, '{}')) k
    WHERE b.plan_id = (t.p).id AND b.code = k.key;
    RETURN jsonb_build_object('code', (t.p).code,
                              'version', plan_bump((t.p).id, 'locks',
                                                   jsonb_build_object('grids', grids, 'beats', beats)));
END;
$$;
COMMENT ON FUNCTION plan_set_locks(text, int, jsonb, jsonb)
    IS 'Locks or unlocks grids ({code: bool}, grids of a beat of the plan) and whole beats of a draft at the version given; answers the new version or a refusal (stale, published, invalid).';

-- Each grid's beat code in a plan (none: the grid is in no beat of it).
CREATE OR REPLACE FUNCTION plan_grid_beats(the_plan int)
RETURNS TABLE (grid_id int, grid_code text, beat_code text)
LANGUAGE sql STABLE AS $$
    SELECT g.id, g.code, b.code
    FROM grid g
    LEFT JOIN beat_grid bg ON bg.grid_id = g.id AND bg.plan_id = the_plan
    LEFT JOIN beat b ON b.id = bg.beat_id
$$;
COMMENT ON FUNCTION plan_grid_beats(int)
    IS 'Every grid with its beat code in a plan (NULL when in none of its beats).';

CREATE OR REPLACE FUNCTION plan_diff(a_code text, b_code text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH pa AS (SELECT * FROM plan_named(a_code, 'a')),
    pb AS (SELECT * FROM plan_named(b_code, 'b')),
    ga AS (SELECT * FROM plan_grid_beats((SELECT id FROM pa))),
    gb AS (SELECT * FROM plan_grid_beats((SELECT id FROM pb))),
    moved AS (
        SELECT ga.grid_id, ga.grid_code, ga.beat_code AS from_beat, gb.beat_code AS to_beat
        FROM ga JOIN gb USING (grid_id)
        WHERE ga.beat_code IS DISTINCT FROM gb.beat_code),
    beats AS (
        SELECT code, bool_or(in_a) AS in_a, bool_or(in_b) AS in_b FROM (
            SELECT code, true AS in_a, false AS in_b FROM beat WHERE plan_id = (SELECT id FROM pa)
            UNION ALL
            SELECT code, false, true FROM beat WHERE plan_id = (SELECT id FROM pb)) x
        GROUP BY code),
    outlines AS (
        SELECT bt.code, bt.in_a, bt.in_b,
               (SELECT coalesce(jsonb_agg(m.grid_code ORDER BY m.grid_code), '[]')
                FROM moved m WHERE m.to_beat = bt.code) AS gained,
               (SELECT coalesce(jsonb_agg(m.grid_code ORDER BY m.grid_code), '[]')
                FROM moved m WHERE m.from_beat = bt.code) AS lost
        FROM beats bt),
    oa AS (SELECT beat_officer(b.id) AS person_id, b.code FROM beat b
           WHERE b.plan_id = (SELECT id FROM pa)),
    ob AS (SELECT beat_officer(b.id) AS person_id, b.code FROM beat b
           WHERE b.plan_id = (SELECT id FROM pb)),
    officers AS (
        SELECT person_id, array_agg(DISTINCT oa.code) FILTER (WHERE oa.code IS NOT NULL) AS a_beats,
               array_agg(DISTINCT ob.code) FILTER (WHERE ob.code IS NOT NULL) AS b_beats
        FROM oa FULL JOIN ob USING (person_id)
        WHERE person_id IS NOT NULL
        GROUP BY person_id),
    workers AS (
        SELECT pe.code AS person, pe.name, m.grid_code, m.from_beat, m.to_beat
        FROM moved m
        JOIN assignment a ON a.grid_id = m.grid_id AND a.role = 'grid_worker'
                          AND a.validity @> now()
        JOIN person pe ON pe.id = a.person_id)
    SELECT jsonb_build_object(
        'a', (SELECT plan_summary(pa) FROM pa),
        'b', (SELECT plan_summary(pb) FROM pb),
        'moved', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'grid', grid_code, 'from', from_beat, 'to', to_beat) ORDER BY grid_code),
                      '[]') FROM moved),
        'beats_changed', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                              'beat', code, 'in_a', in_a, 'in_b', in_b,
                              'gained', gained, 'lost', lost) ORDER BY code), '[]')
                          FROM outlines
                          WHERE NOT (in_a AND in_b)
                             OR jsonb_array_length(gained) + jsonb_array_length(lost) > 0),
        'officers', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'person', pe.code, 'name', pe.name,
                         'from', to_jsonb(o.a_beats), 'to', to_jsonb(o.b_beats)) ORDER BY pe.code),
                         '[]')
                     FROM officers o JOIN person pe ON pe.id = o.person_id
                     WHERE o.a_beats IS DISTINCT FROM o.b_beats),
        'grid_workers', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                             'person', person, 'name', name, 'grid', grid_code,
                             'from', from_beat, 'to', to_beat) ORDER BY person, grid_code), '[]')
                         FROM workers))
$$;
COMMENT ON FUNCTION plan_diff(text, text)
    IS 'What changes from beat plan a to beat plan b: grids that move (from, to beat code), beats whose outline changes (grids gained and lost; beats in one plan only), community officers whose beats change, and grid workers (in force now) whose grid moves beat.';

-- Why a plan may not be published at a moment: every problem, as a list.
CREATE OR REPLACE FUNCTION plan_problems(p beat_plan, publish_from timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH force AS (SELECT code, effective_from AS began FROM plan_at(now())),
    members AS (
        SELECT b.code, count(bg.grid_id) AS grids,
               CASE WHEN count(bg.grid_id) > 0
                    THEN ST_NumGeometries(ST_UnaryUnion(ST_Collect(g.geom))) END AS parts
        FROM beat b
        LEFT JOIN beat_grid bg ON bg.beat_id = b.id
        LEFT JOIN grid g ON g.id = bg.grid_id
        WHERE b.plan_id = p.id
        GROUP BY b.code),
    problems AS (
        SELECT 1 AS ord, jsonb_build_object(
                   'problem', 'grids_without_beat',
                   'detail', format('%s grids are in no beat', count(*)),
                   'grids', jsonb_agg(g.code ORDER BY g.code)) AS problem
        FROM grid g
        WHERE NOT EXISTS (SELECT 1 FROM beat_grid bg WHERE bg.plan_id = p.id AND bg.grid_id = g.id)
        HAVING count(*) > 0
        UNION ALL
        SELECT 2, jsonb_build_object('problem', 'no_beats', 'detail', 'The plan has no beats')
        WHERE NOT EXISTS (SELECT 1 FROM beat WHERE plan_id = p.id)
        UNION ALL
        SELECT 3, jsonb_build_object('problem', 'empty_beat', 'beat', code,
                                     'detail', format('Beat %s has no grid', code))
        FROM members WHERE grids = 0
        UNION ALL
        SELECT 4, jsonb_build_object('problem', 'beat_not_contiguous', 'beat', code,
                                     'parts', parts,
                                     'detail', format('Beat %s is in %s separate pieces', code, parts))
        FROM members WHERE parts > 1
        UNION ALL
        SELECT 5, jsonb_build_object('problem', 'no_effective_from',
                                     'detail', 'effective_from is missing')
        WHERE publish_from IS NULL
        UNION ALL
        SELECT 6, jsonb_build_object(
                   'problem', 'before_plan_in_force',
                   'plan_in_force', f.code, 'in_force_from', f.began,
                   'detail', format('effective_from %s is not after %s, when the plan in force (%s) '
                                    'started', publish_from, f.began, f.code))
        FROM force f WHERE publish_from <= f.began
        UNION ALL
        SELECT 7, jsonb_build_object(
                   'problem', 'effective_from_taken', 'plan', o.code,
                   'detail', format('Beat plan %s is already published from %s', o.code, publish_from))
        FROM beat_plan o
        WHERE o.status = 'published' AND o.effective_from = publish_from AND o.id <> p.id)
    SELECT coalesce(jsonb_agg(problem ORDER BY ord, problem ->> 'beat'), '[]') FROM problems
$$;
COMMENT ON FUNCTION plan_problems(beat_plan, timestamptz)
    IS 'Every reason a plan may not be published from a moment: grids in no beat, no beats, empty beats, beats not contiguous (the union of their grids in more than one piece), a moment not after the start of the plan in force now, or one another published plan starts at.';

CREATE OR REPLACE FUNCTION plan_publish(plan_code text, base_version int, start timestamptz,
                                        dry_run boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t record;
    problems jsonb;
    prev beat_plan;
    next_start timestamptz;
    n_incidents bigint;
    n_fixes bigint;
    n_made bigint;
    n_ended bigint;
    new_version int;
BEGIN
    SELECT * INTO t FROM plan_take(plan_code, base_version);
    IF t.refusal IS NOT NULL THEN
        RETURN t.refusal;
    END IF;
    problems := plan_problems(t.p, start);
    IF dry_run THEN
        RETURN jsonb_build_object('code', (t.p).code, 'version', (t.p).version,
                                  'effective_from', start, 'problems', problems,
                                  'publishable', jsonb_array_length(problems) = 0);
    END IF;
    IF jsonb_array_length(problems) > 0 THEN
        RETURN jsonb_build_object('refused', 'problems', 'parameter', 'effective_from',
            'detail', format('Beat plan %s cannot be published: %s', (t.p).code,
                             (SELECT string_agg(x ->> 'detail', '; ')
                              FROM jsonb_array_elements(problems) x)),
            'problems', problems);
    END IF;
    -- no two plans publish at once: the plan in force at a moment is decided under this lock
    LOCK TABLE beat_plan IN SHARE ROW EXCLUSIVE MODE;
    SELECT * INTO prev FROM plan_at(start);
    SELECT min(effective_from) INTO next_start
    FROM beat_plan WHERE status = 'published' AND effective_from > start;

    UPDATE beat_plan
    SET status = 'published', effective_from = start, published_by = plan_actor(),
        published_at = now()
    WHERE id = (t.p).id;
    new_version := plan_bump((t.p).id, 'publish', jsonb_build_object(
        'effective_from', start, 'until', next_start, 'previous', prev.code));

    -- the people of each new beat from the start: its community officer (the plan's, else the
    -- one of the same beat of the plan that was in force), and the same beat's other people
    WITH carried AS (
        SELECT nb.id AS beat_id, a.person_id, a.role
        FROM beat nb
        JOIN beat ob ON ob.plan_id = prev.id AND ob.code = nb.code
        JOIN assignment a ON a.beat_id = ob.id AND a.validity @> start
        WHERE nb.plan_id = (t.p).id
          AND NOT (a.role = 'community_officer' AND nb.officer_id IS NOT NULL)
        UNION
        SELECT nb.id, nb.officer_id, 'community_officer'
        FROM beat nb WHERE nb.plan_id = (t.p).id AND nb.officer_id IS NOT NULL),
    made AS (
        INSERT INTO assignment (person_id, role, area_kind, beat_id, valid_from, valid_to)
        SELECT person_id, role, 'beat', beat_id, start, next_start FROM carried
        RETURNING 1)
    SELECT count(*) INTO n_made FROM made;
    WITH ended AS (
        UPDATE assignment a SET valid_to = start
        FROM beat ob
        WHERE ob.plan_id = prev.id AND a.beat_id = ob.id
          AND a.valid_from < start AND (a.valid_to IS NULL OR a.valid_to > start)
        RETURNING 1)
    SELECT count(*) INTO n_ended FROM ended;

    -- events from the start until the next plan take the new plan's beat of the grid they are
    -- stamped with: grids do not change here, only beats, so no point is located again
    PERFORM set_config('geo.bulk_load', 'on', true);
    UPDATE incident i SET beat_id = bg.beat_id
    FROM beat_grid bg
    WHERE bg.plan_id = (t.p).id AND bg.grid_id = i.grid_id
      AND i.received_at >= start AND (next_start IS NULL OR i.received_at < next_start)
      AND i.beat_id IS DISTINCT FROM bg.beat_id;
    GET DIAGNOSTICS n_incidents = ROW_COUNT;
    UPDATE position_fix f SET beat_id = bg.beat_id
    FROM beat_grid bg
    WHERE bg.plan_id = (t.p).id AND bg.grid_id = f.grid_id
      AND f.recorded_at >= start AND (next_start IS NULL OR f.recorded_at < next_start)
      AND f.beat_id IS DISTINCT FROM bg.beat_id;
    GET DIAGNOSTICS n_fixes = ROW_COUNT;
    PERFORM set_config('geo.bulk_load', 'off', true);

    RETURN jsonb_build_object(
        'code', (t.p).code, 'version', new_version, 'effective_from', start,
        'until', next_start, 'previous', prev.code,
        'assignments', jsonb_build_object('made', n_made, 'ended', n_ended),
        'restamped', jsonb_build_object('incidents', n_incidents, 'position_fixes', n_fixes));
END;
$$;
COMMENT ON FUNCTION plan_publish(text, int, timestamptz, boolean)
    IS 'Publishes a draft from a moment, or answers every problem that forbids it (a dry run answers the problems and changes nothing). The new beats take their people from the start (community officer of the plan, else of the same beat of the plan in force then, and that beat''s other people), whose beat assignments of the previous plan end then; incidents and position fixes from the start until the next published plan are stamped with the new beats by their grid (only those rows).';

-- Importing grid→beat rows into a draft is an edit like any other: the version goes up.
CREATE OR REPLACE FUNCTION plan_imported(the_plan int, added bigint, removed bigint)
RETURNS int
LANGUAGE sql VOLATILE AS $$
    SELECT plan_bump(the_plan, 'import',
                     jsonb_build_object('added', added, 'removed', removed))
$$;
COMMENT ON FUNCTION plan_imported(int, bigint, bigint)
    IS 'Records an import of beat_grid rows into a draft: its version goes up by one (plan_change kind import).';
