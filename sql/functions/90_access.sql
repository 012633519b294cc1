-- Placeholder grants (replaced by the RLS helper's file).
GRANT USAGE ON SCHEMA public TO geo_service_app;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO geo_service_app;
REVOKE ALL ON app_user, user_session, api_token FROM geo_service_app;
GRANT SELECT, INSERT, UPDATE ON app_user, user_session, api_token TO geo_service_app;
