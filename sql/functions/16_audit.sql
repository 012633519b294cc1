-- The audit trail (tables in migrations/013_audit.sql): append, read as an auditor, verify the
-- hash chain, drop old months; the triggers that keep it append-only; this month's partition
-- and the next three's. Re-applied on every migrate.
--
-- The chain: hash = sha256(prev_hash || convert_to(audit_canonical(...), 'UTF8')), where
-- prev_hash is the hash of the row with seq - 1 (for seq 1: 32 zero bytes). audit_canonical is
-- the one definition of a row's content, used by audit_append and audit_verify alike.

-- Signatures of this file that changed are dropped first (none yet). A function whose result
-- columns change must be dropped here too: CREATE OR REPLACE cannot change them.

-- The canonical text of a row's own content: the jsonb text of the array
--   [seq, at as whole microseconds since 1970-01-01 00:00 UTC, actor, role, action, subject,
--    detail, request_id, client]
-- SQL NULL is JSON null. jsonb prints a value one way only ("key": value pairs separated by ", ",
-- object keys ordered by length, then bytes; strings escaped as JSON with non-ASCII kept as
-- UTF-8), and the number of microseconds does not depend on TimeZone or DateStyle.
CREATE OR REPLACE FUNCTION audit_canonical(
    seq bigint, at timestamptz, actor text, role text, action text, subject text, detail jsonb,
    request_id text, client text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_array(
        seq, (extract(epoch FROM at) * 1000000)::bigint, actor, role, action, subject, detail,
        request_id, client)::text
$$;
COMMENT ON FUNCTION audit_canonical(bigint, timestamptz, text, text, text, text, jsonb, text, text)
    IS 'The text an audit row''s hash covers (after its prev_hash): jsonb array [seq, at in microseconds since the Unix epoch, actor, role, action, subject, detail, request_id, client].';

-- Whether the session's login role owns the audit trail (or is a superuser): the operator and
-- the CLI, never the service's role. Called inside SECURITY DEFINER functions, where
-- current_user is the owner but session_user is still who logged in.
CREATE OR REPLACE FUNCTION audit_by_owner()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = public, pg_temp AS $$
    SELECT pg_has_role(session_user, c.relowner, 'MEMBER')
    FROM pg_class c
    WHERE c.oid = 'audit_event'::regclass
$$;
COMMENT ON FUNCTION audit_by_owner()
    IS 'True when the role that logged in owns audit_event (or is a superuser): the operator, not the service.';

-- The partition of audit_event for the month (UTC) holding `at`, made when missing with a
-- TRUNCATE trigger of its own (statement triggers are not cloned to partitions). Making one
-- locks audit_event exclusively, so it waits for readers (an auditor's export): migrate and
-- prune make the next three months ahead, and appends make one only when those ran out; such an
-- append waits at most lock_timeout instead of holding every other append behind the reader.
CREATE OR REPLACE FUNCTION audit_month_partition(at timestamptz)
RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = public, pg_temp
SET lock_timeout = '10s' AS $$
DECLARE
    month_start timestamp := date_trunc('month', at AT TIME ZONE 'UTC');
    part_name text := 'audit_event_' || to_char(month_start, 'YYYY_MM');
    existing regclass := to_regclass('public.' || quote_ident(part_name));
BEGIN
    IF existing IS NOT NULL THEN
        RETURN existing;
    END IF;
    -- bounds as ISO text with an explicit UTC offset: read the same under any DateStyle
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS public.%I PARTITION OF public.audit_event '
        'FOR VALUES FROM (%L) TO (%L)',
        part_name,
        to_char(month_start, 'YYYY-MM-DD HH24:MI:SS') || '+00',
        to_char(month_start + interval '1 month', 'YYYY-MM-DD HH24:MI:SS') || '+00');
    EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC', part_name);
    EXECUTE format(
        'CREATE OR REPLACE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON public.%I '
        'FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()', part_name);
    RETURN to_regclass('public.' || quote_ident(part_name));
END;
$$;
COMMENT ON FUNCTION audit_month_partition(timestamptz)
    IS 'The partition of audit_event for the UTC month holding at (audit_event_YYYY_MM), created when missing.';

-- This month's partition and the next `months` months' (UTC), made when missing.
CREATE OR REPLACE FUNCTION audit_months_ahead(months int)
RETURNS void
LANGUAGE sql VOLATILE AS $$
    SELECT audit_month_partition(
        (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => ahead))
        AT TIME ZONE 'UTC')
    FROM generate_series(0, months) AS ahead
$$;
COMMENT ON FUNCTION audit_months_ahead(int)
    IS 'Make the partitions of audit_event for this month and the next months months (UTC) when missing.';

-- Trigger: the audit trail is append-only, for its owner too.
CREATE OR REPLACE FUNCTION audit_refuse_change()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'The audit trail is append-only: % on % is refused.', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Months older than the retention leave only through geo-service audit prune.';
END;
$$;
COMMENT ON FUNCTION audit_refuse_change()
    IS 'Trigger refusing UPDATE, DELETE and TRUNCATE on audit_event and its partitions, and DELETE and TRUNCATE on audit_head.';

-- Trigger: the head of the chain only moves forward.
CREATE OR REPLACE FUNCTION audit_head_forward()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq <= OLD.seq OR NEW.at < OLD.at OR NOT NEW.only_row THEN
        RAISE EXCEPTION 'The head of the audit chain only moves forward (seq % to %).',
            OLD.seq, NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION audit_head_forward()
    IS 'Trigger on audit_head: an update must advance seq and may not move at back.';

CREATE OR REPLACE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE OR REPLACE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE OR REPLACE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_forward();
CREATE OR REPLACE TRIGGER audit_head_kept BEFORE DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE OR REPLACE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- Append events, in order, to the chain. `events` is a JSON array of objects with the keys
--   actor (text, required), action (text, required: a-z, 0-9, _), role, subject, request_id,
--   client (text or null), detail (object or null), at (owner only, see below).
-- Runs as the owner (SECURITY DEFINER): the service's role may execute it and nothing else.
-- Holding the head row FOR UPDATE until the transaction ends orders appends strictly: seq
-- counts up without gaps and at = max(clock_timestamp(), the previous row's at), never back.
-- `at` (ISO 8601 with an offset) is for the owner only (the operator, tests, importing an older
-- trail): it may not be earlier than the newest row's nor in the future.
CREATE OR REPLACE FUNCTION audit_append(events jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    head audit_head%ROWTYPE;
    event jsonb;
    event_at timestamptz;
    month_end timestamptz := '-infinity';
    key text;
    canonical text;
BEGIN
    IF jsonb_typeof(events) = 'object' THEN
        events := jsonb_build_array(events);
    END IF;
    IF jsonb_typeof(events) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'audit_append takes a JSON array of events, not %.',
            coalesce(jsonb_typeof(events), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'events';
    END IF;
    IF jsonb_array_length(events) = 0 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO STRICT head FROM audit_head FOR UPDATE;
    FOR event IN SELECT value FROM jsonb_array_elements(events) LOOP
        IF jsonb_typeof(event) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'An audit event is a JSON object, not %.', jsonb_typeof(event)
                USING ERRCODE = 'invalid_parameter_value', HINT = 'events';
        END IF;
        FOR key IN SELECT jsonb_object_keys(event) LOOP
            IF key NOT IN ('actor', 'role', 'action', 'subject', 'detail', 'request_id',
                           'client', 'at') THEN
                RAISE EXCEPTION 'An audit event has no key %.', quote_literal(key)
                    USING ERRCODE = 'invalid_parameter_value', HINT = 'events';
            END IF;
            IF key = 'detail' THEN
                IF jsonb_typeof(event -> key) NOT IN ('object', 'null') THEN
                    RAISE EXCEPTION 'An audit event''s detail is a JSON object.'
                        USING ERRCODE = 'invalid_parameter_value', HINT = 'detail';
                END IF;
            ELSIF jsonb_typeof(event -> key) NOT IN ('string', 'null')
                  OR length(event ->> key) > 1000 THEN
                RAISE EXCEPTION 'An audit event''s % is text of at most 1000 characters.', key
                    USING ERRCODE = 'invalid_parameter_value', HINT = key;
            END IF;
        END LOOP;
        IF coalesce(event ->> 'actor', '') = '' THEN
            RAISE EXCEPTION 'An audit event needs an actor.'
                USING ERRCODE = 'invalid_parameter_value', HINT = 'actor';
        END IF;
        IF coalesce(event ->> 'action', '') !~ '^[a-z][a-z0-9_]{0,63}$' THEN
            RAISE EXCEPTION 'An audit event needs an action of a-z, 0-9 and _, not %.',
                coalesce(quote_literal(event ->> 'action'), 'none')
                USING ERRCODE = 'invalid_parameter_value', HINT = 'action';
        END IF;
        IF octet_length((event -> 'detail')::text) > 65536 THEN
            RAISE EXCEPTION 'An audit event''s detail is at most 64 KiB of JSON.'
                USING ERRCODE = 'invalid_parameter_value', HINT = 'detail';
        END IF;

        IF coalesce(jsonb_typeof(event -> 'at'), 'null') = 'null' THEN
            event_at := greatest(clock_timestamp(), head.at);
        ELSE
            IF NOT audit_by_owner() THEN
                RAISE EXCEPTION 'Only the owner of the audit trail gives an event its time.'
                    USING ERRCODE = 'insufficient_privilege', HINT = 'at';
            END IF;
            event_at := (event ->> 'at')::timestamptz;
            IF event_at < head.at OR event_at > clock_timestamp() THEN
                RAISE EXCEPTION 'An audit event''s time % is before the newest event''s (%) '
                    'or in the future.', event_at, head.at
                    USING ERRCODE = 'invalid_parameter_value', HINT = 'at';
            END IF;
        END IF;
        IF event_at >= month_end THEN  -- at never goes back: one look per month appended to
            PERFORM audit_month_partition(event_at);
            month_end := (date_trunc('month', event_at AT TIME ZONE 'UTC') + interval '1 month')
                         AT TIME ZONE 'UTC';
        END IF;

        head.seq := head.seq + 1;
        canonical := audit_canonical(
            head.seq, event_at, event ->> 'actor', event ->> 'role', event ->> 'action',
            event ->> 'subject', coalesce(nullif(event -> 'detail', 'null'), '{}'),
            event ->> 'request_id', event ->> 'client');
        INSERT INTO audit_event (seq, at, actor, role, action, subject, detail, request_id,
                                 client, prev_hash, hash)
        VALUES (head.seq, event_at, event ->> 'actor', event ->> 'role', event ->> 'action',
                event ->> 'subject', coalesce(nullif(event -> 'detail', 'null'), '{}'),
                event ->> 'request_id', event ->> 'client', head.hash,
                sha256(head.hash || convert_to(canonical, 'UTF8')))
        RETURNING audit_event.hash INTO head.hash;
        head.at := event_at;
    END LOOP;
    UPDATE audit_head SET seq = head.seq, hash = head.hash, at = head.at WHERE only_row;
    RETURN head.seq;
END;
$$;
COMMENT ON FUNCTION audit_append(jsonb)
    IS 'Append a JSON array of audit events (actor, action, role, subject, detail, request_id, client) to the hash chain, in order; returns the last seq (NULL for none). Only the owner may give an event its time (at).';

-- The audit trail as an auditor reads it: filters, pages by seq (after_seq), at most 1000 rows,
-- with each row's hashes (so an export can be checked away from the database).
-- Refused (42501) unless the transaction's context says geo.role = auditor, or the session's
-- login role owns the trail (the CLI).
CREATE OR REPLACE FUNCTION audit_events(
    actor_is text, action_is text, from_at timestamptz, to_at timestamptz, after_seq bigint,
    lim int)
RETURNS TABLE (seq bigint, at timestamptz, actor text, role text, action text, subject text,
               detail jsonb, request_id text, client text, prev_hash bytea, hash bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    IF current_setting('geo.role', true) IS DISTINCT FROM 'auditor' AND NOT audit_by_owner() THEN
        RAISE EXCEPTION 'Only an auditor reads the audit trail.'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF lim IS NULL OR lim < 1 OR lim > 1000 THEN
        RAISE EXCEPTION 'A page of the audit trail holds 1 to 1000 events, not %.', lim
            USING ERRCODE = 'invalid_parameter_value', HINT = 'limit';
    END IF;
    -- coalesce, not "IS NULL OR": the bounds then prune partitions when the plan runs
    RETURN QUERY
        SELECT e.seq, e.at, e.actor, e.role, e.action, e.subject, e.detail, e.request_id,
               e.client, e.prev_hash, e.hash
        FROM audit_event e
        WHERE e.at >= coalesce(from_at, '-infinity')
          AND e.at < coalesce(to_at, 'infinity')
          AND e.seq > coalesce(after_seq, 0)
          AND (actor_is IS NULL OR e.actor = actor_is)
          AND (action_is IS NULL OR e.action = action_is)
        ORDER BY e.seq
        LIMIT lim;
END;
$$;
COMMENT ON FUNCTION audit_events(text, text, timestamptz, timestamptz, bigint, int)
    IS 'Audit events by actor, action and time span [from_at, to_at), after seq after_seq, in seq order, at most lim (1..1000); for auditors (geo.role) and the owner only.';

-- Walk the chain in seq order and report it: the rows, the oldest row's prev_hash (the anchor:
-- the genesis when the oldest row is seq 1, else the hash of a pruned row, trusted), and the
-- first row that does not match (bad_seq, bad_at, problem; NULL when the chain is whole).
-- Checks per row: seq follows the previous seq by one, prev_hash is the previous row's hash,
-- hash covers prev_hash and audit_canonical, at does not go back; then the newest row is the
-- one audit_head names.
CREATE OR REPLACE FUNCTION audit_verify()
RETURNS TABLE (rows bigint, first_seq bigint, first_at timestamptz, anchor bytea,
               last_seq bigint, last_at timestamptz, head_seq bigint,
               bad_seq bigint, bad_at timestamptz, problem text)
LANGUAGE sql STABLE AS $$
    WITH chain AS (
        SELECT e.seq, e.at, e.prev_hash, e.hash,
               sha256(e.prev_hash || convert_to(audit_canonical(
                   e.seq, e.at, e.actor, e.role, e.action, e.subject, e.detail, e.request_id,
                   e.client), 'UTF8')) AS computed,
               lag(e.seq) OVER w AS before_seq,
               lag(e.hash) OVER w AS before_hash,
               lag(e.at) OVER w AS before_at,
               row_number() OVER w AS n
        FROM audit_event e
        WINDOW w AS (ORDER BY e.seq)
    ),
    summary AS (
        SELECT count(*) AS rows, min(seq) AS first_seq, max(seq) AS last_seq FROM chain
    ),
    ends AS (
        SELECT s.*, f.at AS first_at, f.prev_hash AS anchor, l.at AS last_at,
               l.hash AS last_hash, h.seq AS head_seq, h.hash AS head_hash
        FROM summary s
        CROSS JOIN audit_head h
        LEFT JOIN chain f ON f.seq = s.first_seq AND f.n = 1
        LEFT JOIN chain l ON l.seq = s.last_seq AND l.n = s.rows
    ),
    problems AS (
        SELECT c.seq, c.at, CASE
            WHEN c.before_seq IS NULL AND c.seq = 1
                 AND c.prev_hash <> decode(repeat('00', 32), 'hex')
                THEN 'seq 1''s prev_hash is not the genesis (32 zero bytes)'
            WHEN c.before_seq IS NOT NULL AND c.seq <> c.before_seq + 1
                THEN format('seq %s follows seq %s: rows are missing or repeated',
                            c.seq, c.before_seq)
            WHEN c.before_seq IS NOT NULL AND c.prev_hash <> c.before_hash
                THEN format('its prev_hash is not the hash of seq %s', c.before_seq)
            WHEN c.computed <> c.hash
                THEN 'its hash does not match its content'
            WHEN c.at < c.before_at
                THEN format('its time is earlier than that of seq %s', c.before_seq)
            END AS problem
        FROM chain c
        UNION ALL
        SELECT coalesce(e.last_seq + 1, e.head_seq), NULL::timestamptz, CASE
            WHEN e.rows = 0 AND e.head_seq > 0
                THEN format('the trail is empty but its head is at seq %s', e.head_seq)
            WHEN e.last_seq < e.head_seq
                THEN format('the trail ends at seq %s but its head is at seq %s: the newest '
                            'rows are missing', e.last_seq, e.head_seq)
            END
        FROM ends e
        UNION ALL
        SELECT e.last_seq, e.last_at,
               'its hash or seq is not the one the head of the chain recorded'
        FROM ends e
        WHERE e.rows > 0 AND (e.last_seq > e.head_seq
                              OR (e.last_seq = e.head_seq AND e.last_hash <> e.head_hash))
    ),
    first_problem AS (
        SELECT * FROM problems WHERE problem IS NOT NULL ORDER BY seq LIMIT 1
    )
    SELECT e.rows, e.first_seq, e.first_at, e.anchor, e.last_seq, e.last_at, e.head_seq,
           p.seq, p.at, p.problem
    FROM ends e
    LEFT JOIN first_problem p ON true
$$;
COMMENT ON FUNCTION audit_verify()
    IS 'Walk the audit hash chain in seq order: rows, oldest row and its prev_hash (the anchor), newest row, head, and the first row that does not match with why (NULL when whole).';

-- Detach and drop the months of audit_event that end at least retention_days (180 or more) ago.
-- The rows left keep their hashes: the oldest one's prev_hash becomes the chain's anchor, and
-- through_seq/through_hash (the newest dropped row) say what it must be.
CREATE OR REPLACE FUNCTION audit_prune(retention_days int)
RETURNS TABLE (partition text, month_start timestamptz, rows bigint, through_seq bigint,
               through_hash bytea)
LANGUAGE plpgsql VOLATILE
-- the partition bounds are read back as text: ISO in UTC reads the same way it was written
SET search_path = public, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC' AS $$
DECLARE
    cutoff timestamptz;
    part record;
BEGIN
    IF retention_days IS NULL OR retention_days < 180 THEN
        RAISE EXCEPTION 'The audit trail is kept at least 180 days, not %.', retention_days
            USING ERRCODE = 'invalid_parameter_value', HINT = 'retention_days';
    END IF;
    cutoff := now() - make_interval(days => retention_days);
    PERFORM 1 FROM audit_head FOR UPDATE;  -- no appends while months leave
    FOR part IN
        SELECT b.rel, b.bounds[1]::timestamptz AS lo, b.bounds[2]::timestamptz AS hi
        FROM (
            SELECT i.inhrelid::regclass AS rel,
                   regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') AS bounds
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'audit_event'::regclass
        ) b
        WHERE b.bounds[2]::timestamptz <= cutoff
        ORDER BY 2
    LOOP
        partition := part.rel::text;
        month_start := part.lo;
        EXECUTE format('SELECT count(*), max(seq) FROM %s', part.rel) INTO rows, through_seq;
        EXECUTE format('SELECT hash FROM %s WHERE seq = $1', part.rel)
            INTO through_hash USING through_seq;
        EXECUTE format('ALTER TABLE audit_event DETACH PARTITION %s', part.rel);
        EXECUTE format('DROP TABLE %s', part.rel);
        RETURN NEXT;
    END LOOP;
    PERFORM audit_months_ahead(3);
END;
$$;
COMMENT ON FUNCTION audit_prune(int)
    IS 'Detach and drop the monthly partitions of audit_event that end retention_days (at least 180) or more ago, and make the next three months'' partitions; one row per dropped month with its rows and its newest row''s seq and hash.';

-- Who may run what: the service's role appends, and reads as an auditor; the rest is the
-- owner's (functions are executable by PUBLIC unless revoked).
REVOKE ALL ON FUNCTION
    audit_canonical(bigint, timestamptz, text, text, text, text, jsonb, text, text),
    audit_by_owner(), audit_month_partition(timestamptz), audit_months_ahead(int),
    audit_refuse_change(),
    audit_head_forward(), audit_append(jsonb),
    audit_events(text, text, timestamptz, timestamptz, bigint, int), audit_verify(),
    audit_prune(int)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    audit_append(jsonb), audit_events(text, text, timestamptz, timestamptz, bigint, int)
    TO geo_service_app;

-- Every partition refuses TRUNCATE of its own; this month's and the next three's partitions
-- exist before anyone appends.
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits
                WHERE inhparent = 'audit_event'::regclass LOOP
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON %s '
            'FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()', part);
    END LOOP;
END
$$;
SELECT audit_months_ahead(3);
