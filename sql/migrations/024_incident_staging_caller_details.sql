-- An incident layer carries the caller's address and description as well as the phone (issue
-- 12: exports, OGC items, imports): the staging table that loads and imports copy incidents
-- through gets them too (store_staged_incidents of sql/functions/10_areas.sql moves them into
-- incident.address and incident.description, migration 015), held to the same lengths.

TRUNCATE incident_staging;  -- unlogged, empty between loads
ALTER TABLE incident_staging
    ADD COLUMN address text CHECK (length(address) <= 500),
    ADD COLUMN description text CHECK (length(description) <= 4000);
