-- Incidents loaded from a file may carry the caller's phone (the sample's do, issue 12 §6): the
-- staging table the loader copies them through gets the column (store_staged_incidents of
-- sql/functions/10_areas.sql moves it into incident.caller_phone, migration 015).

TRUNCATE incident_staging;  -- unlogged, empty between loads
ALTER TABLE incident_staging
    ADD COLUMN caller_phone text CHECK (caller_phone ~ '^[0-9+\-]{3,20}$');
