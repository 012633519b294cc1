-- Incidents keep the H3 cell they lie in at each resolution the maps count by: 7, 8 and 9 as
-- well as 10 (column h3), each computed with h3-py's latlng_to_cell when the incident is
-- stored. Counting at a coarser resolution by the parent of the resolution-10 cell (h3_parent,
-- dropped here) put about 6 % of incidents in a cell they do not lie in: H3's children do not
-- tile their parent.
--
-- There is no h3 in PostgreSQL, so the new columns start NULL here; geo_service.db.migrate then
-- runs a Python step in the same transaction (geo_service/cells.py stamp_incident_cells) that
-- fills them for incidents already stored and makes them NOT NULL. A database migrated from
-- the old schema therefore either counts right at once or is not migrated at all.
--
-- Also: position fixes get the GiST index on their geometry that every other point table has.

TRUNCATE incident_staging;  -- unlogged, empty between loads
ALTER TABLE incident_staging
    ADD COLUMN h3_r7 bigint NOT NULL,
    ADD COLUMN h3_r8 bigint NOT NULL,
    ADD COLUMN h3_r9 bigint NOT NULL;

ALTER TABLE incident
    ADD COLUMN h3_r7 bigint,
    ADD COLUMN h3_r8 bigint,
    ADD COLUMN h3_r9 bigint,
    -- the resolution of an H3 index is in bits 52..55: no column can hold another resolution
    ADD CONSTRAINT incident_h3_resolutions CHECK (
        (h3_r7 >> 52) & 15 = 7 AND (h3_r8 >> 52) & 15 = 8 AND (h3_r9 >> 52) & 15 = 9
        AND (h3 >> 52) & 15 = 10
    );

COMMENT ON COLUMN incident.h3
    IS 'H3 cell (resolution 10) the incident lies in: h3-py latlng_to_cell, computed when stored.';
COMMENT ON COLUMN incident.h3_r7
    IS 'H3 cell (resolution 7) the incident lies in: latlng_to_cell, not the parent of h3.';
COMMENT ON COLUMN incident.h3_r8
    IS 'H3 cell (resolution 8) the incident lies in: latlng_to_cell, not the parent of h3.';
COMMENT ON COLUMN incident.h3_r9
    IS 'H3 cell (resolution 9) the incident lies in: latlng_to_cell, not the parent of h3.';

DROP FUNCTION IF EXISTS h3_parent(bigint, int);

CREATE INDEX position_fix_geom_gix ON position_fix USING gist (geom);
