-- The field's layers as they leave the service (export, OGC API - Features), in the shape of the
-- sample GeoPackage's layers (45_layers.sql explains the shape): the waters marked for dusk
-- patrols, inspections (a table: lon and lat where the inspector stood; a check-in's poles name
-- it by client id), sweeps and their grids (targets are computed when loaded, not a layer),
-- reports (lon and lat of the place) and their steps.
DROP VIEW IF EXISTS layer_patrol_water, layer_inspection, layer_sweep, layer_sweep_grid,
    layer_report, layer_report_step;

CREATE VIEW layer_patrol_water AS
SELECT w.code AS water_body_code, station_iso(p.marked_at) AS marked_at,
       station_iso(p.unmarked_at) AS unmarked_at
FROM patrol_water p
JOIN water_body w ON w.id = p.water_body_id;

CREATE VIEW layer_inspection AS
SELECT i.client_id::text AS client_id, i.kind, i.code, station_iso(i.inspected_at) AS inspected_at,
       i.inspector, pe.code AS person_code, i.result, i.items::text AS items, i.fix_what,
       i.fix_by::text AS fix_by, i.note, c.client_id::text AS check_in_client_id,
       ST_X(i.position) AS lon, ST_Y(i.position) AS lat,
       round(i.accuracy_m::numeric, 2)::float8 AS accuracy_m, i.id AS _id, i.inspected_at AS _time
FROM inspection i
LEFT JOIN person pe ON pe.id = i.person_id
LEFT JOIN inspection c ON c.id = i.check_in_id;

CREATE VIEW layer_sweep AS
SELECT s.name, station_iso(s.starts_at) AS starts_at, station_iso(s.ends_at) AS ends_at,
       array_to_string(s.target_kinds, ',') AS target_kinds, s.opened_by,
       station_iso(s.opened_at) AS opened_at, s.note, s.id AS _id
FROM sweep s;

CREATE VIEW layer_sweep_grid AS
SELECT s.name AS sweep_name, g.code AS grid_code, s.name || '/' || g.code AS _id
FROM sweep_grid sg
JOIN sweep s ON s.id = sg.sweep_id
JOIN grid g ON g.id = sg.grid_id;

CREATE VIEW layer_report AS
SELECT r.client_id::text AS client_id, r.category, r.status, r.note, ST_X(r.geom) AS lon,
       ST_Y(r.geom) AS lat, r.reporter, pe.code AS person_code,
       station_iso(r.reported_at) AS reported_at, r.id AS _id, r.reported_at AS _time
FROM report r
LEFT JOIN person pe ON pe.id = r.person_id;

CREATE VIEW layer_report_step AS
SELECT r.client_id::text AS report_client_id, s.kind, station_iso(s.at) AS at, s.actor,
       d.code AS department, s.note, s.client_id::text AS client_id, s.id AS _id, s.at AS _time
FROM report_step s
JOIN report r ON r.id = s.report_id
LEFT JOIN department d ON d.id = s.department_id;
