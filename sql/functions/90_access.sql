-- Placeholder grants (replaced by the RLS helper's file).
GRANT USAGE ON SCHEMA public TO geo_service_app;
DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p', 'm')
               AND c.relname NOT LIKE 'audit%' AND c.relname NOT IN ('app_user', 'user_session', 'api_token')
    LOOP
        EXECUTE format('GRANT SELECT ON %I TO geo_service_app', t);
    END LOOP;
END $$;
