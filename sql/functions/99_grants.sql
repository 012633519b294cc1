-- Last of the functions files: what every view and function of the tables' owner grants the
-- service's role, made after every file has made its own (90_access.sql and the 91_… files
-- protect the tables).
DO $$
DECLARE
    r record;
BEGIN
    -- Views run with the rights of whoever asks (security_invoker), not their owner's: a view
    -- owned by the tables' owner would read past every policy.
    FOR r IN
        SELECT c.oid::regclass AS v FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'
          AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER VIEW %s SET (security_invoker = true)', r.v);
        EXECUTE format('GRANT SELECT ON %s TO geo_service_app', r.v);
    END LOOP;

    -- Functions run with the rights of whoever calls them, so their queries meet the same
    -- policies. Those whose rights were set where they are made (SECURITY DEFINER ones, the
    -- audit trail's, app_enter: a non-default ACL) are left as they were set there.
    FOR r IN
        SELECT fn.oid::regprocedure AS f FROM pg_proc fn
        WHERE fn.pronamespace = 'public'::regnamespace AND fn.prokind = 'f' AND NOT fn.prosecdef
          AND fn.proacl IS NULL
          AND fn.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = fn.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO geo_service_app', r.f);
    END LOOP;
END;
$$;
