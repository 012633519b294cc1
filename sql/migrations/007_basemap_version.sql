-- A version number of the basemap layers (station, villages, roads, water bodies), bumped by
-- statement-level triggers in the transaction that changes them, so the map pages can keep the
-- simplified basemap in memory and know exactly when it is stale.
CREATE TABLE basemap_version (
    id      int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    version bigint NOT NULL DEFAULT 0
);
INSERT INTO basemap_version DEFAULT VALUES;

CREATE FUNCTION bump_basemap_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE basemap_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION bump_basemap_version()
    IS 'Trigger: a change to the station, villages, roads or water bodies makes the cached basemap stale.';

CREATE TRIGGER station_basemap_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON station
    FOR EACH STATEMENT EXECUTE FUNCTION bump_basemap_version();
CREATE TRIGGER village_basemap_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON village
    FOR EACH STATEMENT EXECUTE FUNCTION bump_basemap_version();
CREATE TRIGGER road_basemap_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON road
    FOR EACH STATEMENT EXECUTE FUNCTION bump_basemap_version();
CREATE TRIGGER water_body_basemap_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON water_body FOR EACH STATEMENT EXECUTE FUNCTION bump_basemap_version();
