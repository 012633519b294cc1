-- A backup must restore. pg_restore loads rows with an empty search_path, and the generated
-- column camera.view_sector calls camera_view_sector, whose PL/pgSQL body names PostGIS types
-- and functions without a schema: the restore failed with 'type "geometry[]" does not exist'.
-- The function now carries the search_path it was made with (PostGIS's schema among it).
ALTER FUNCTION camera_view_sector(geometry, double precision, double precision, double precision)
    SET search_path FROM CURRENT;
