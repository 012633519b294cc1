-- The command room's event log (migration 015): every change of an incident, a step of its
-- timeline or a unit's state is written to command_event in the same transaction, and at commit
-- given its id and NOTIFYed on channel command_event with it, which PostgreSQL delivers after
-- commit (never for a transaction that rolled back). The writers need no grant on the log: the
-- triggers run as its owner.
--
-- Ids follow commit order, so that a stream reader that has seen an id has seen every smaller
-- one (Last-Event-ID replays exactly what came after). A row is written with a draft id (the
-- negative of a value of the log's sequence) and renumbered by a deferred trigger that runs at
-- commit: it takes a transaction lock first, so a second writer's commit waits until the first
-- has committed, and only then draws its ids. An id taken when the row is written would let a
-- long transaction commit an id below one that a reader already saw. The lock costs little:
-- PostgreSQL already makes NOTIFYing transactions commit one at a time (PreCommit_Notify).

CREATE OR REPLACE FUNCTION command_log(
    kind text, incident_id bigint, call_sign text, grid_id int, payload jsonb
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    event_id bigint;
BEGIN
    INSERT INTO command_event (id, kind, incident_id, call_sign, grid_id, payload)
    VALUES (-nextval('command_event_id_seq'), kind, incident_id, call_sign, grid_id, payload)
    RETURNING id INTO event_id;
    RETURN event_id;
END;
$$;
REVOKE EXECUTE ON FUNCTION command_log(text, bigint, text, int, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION command_log(text, bigint, text, int, jsonb)
    IS 'Append one event to the command room''s log; returns its draft id (negative): its id is given at commit, in commit order, and NOTIFYed on command_event (command_event_commit).';

-- At commit, for each event of the transaction in the order written: the next id of the log,
-- under a transaction lock (any fixed number: 720681109 and 720681110 are the service's other
-- advisory locks), and a NOTIFY with it.
CREATE OR REPLACE FUNCTION command_event_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    event_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(720681111);
    event_id := nextval('command_event_id_seq');
    UPDATE command_event SET id = event_id WHERE id = NEW.id;
    PERFORM pg_notify('command_event', event_id::text);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION command_event_commit()
    IS 'Give an event of the command room''s log its id at commit (commit order, under a transaction lock) and NOTIFY command_event with it.';

DROP TRIGGER IF EXISTS command_event_committed ON command_event;
CREATE CONSTRAINT TRIGGER command_event_committed AFTER INSERT ON command_event
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION command_event_commit();

-- An incident as the log carries it: no caller phone, address or description (the stream
-- sends what every reader in scope may see; details are read through the API, masked).
CREATE OR REPLACE FUNCTION command_log_incident() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM command_log('incident', NEW.id, NULL, NEW.grid_id, jsonb_build_object(
        'call_no', NEW.call_no, 'status', NEW.status, 'category', NEW.category,
        'received_at', NEW.received_at, 'lon', ST_X(NEW.geom), 'lat', ST_Y(NEW.geom),
        'op', lower(TG_OP)));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION command_log_step() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    inc record;
BEGIN
    SELECT call_no, grid_id INTO inc FROM incident WHERE id = NEW.incident_id;
    PERFORM command_log('step', NEW.incident_id, NEW.call_sign, inc.grid_id, jsonb_build_object(
        'call_no', inc.call_no, 'step', NEW.kind, 'at', NEW.at, 'actor', NEW.actor,
        'source', NEW.source, 'call_sign', NEW.call_sign, 'result', NEW.result));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION command_log_unit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
       AND NEW.geom IS NOT DISTINCT FROM OLD.geom
       AND NEW.incident_id IS NOT DISTINCT FROM OLD.incident_id THEN
        RETURN NULL;
    END IF;
    PERFORM command_log('unit', NEW.incident_id, NEW.call_sign, NEW.grid_id, jsonb_build_object(
        'call_sign', NEW.call_sign, 'status', NEW.status,
        'call_no', (SELECT call_no FROM incident WHERE id = NEW.incident_id),
        'lon', ST_X(NEW.geom), 'lat', ST_Y(NEW.geom), 'fixed_at', NEW.fixed_at));
    RETURN NULL;
END;
$$;

-- Incidents loaded from a file in bulk are history, not news: the log records only rows written
-- one request at a time (the bulk loaders set geo.bulk_load to 'on' for their transaction).
CREATE OR REPLACE FUNCTION command_logging() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('geo.bulk_load', true), '') <> 'on'
$$;

DROP TRIGGER IF EXISTS incident_logged ON incident;
CREATE TRIGGER incident_logged AFTER INSERT OR UPDATE OF status, geom ON incident
    FOR EACH ROW WHEN (command_logging()) EXECUTE FUNCTION command_log_incident();
DROP TRIGGER IF EXISTS incident_step_logged ON incident_step;
CREATE TRIGGER incident_step_logged AFTER INSERT ON incident_step
    FOR EACH ROW WHEN (command_logging()) EXECUTE FUNCTION command_log_step();
DROP TRIGGER IF EXISTS unit_state_logged ON unit_state;
CREATE TRIGGER unit_state_logged AFTER INSERT OR UPDATE ON unit_state
    FOR EACH ROW WHEN (command_logging()) EXECUTE FUNCTION command_log_unit();
