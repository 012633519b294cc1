-- "My area" (issue 14, the phone page /me): what a grid worker, community officer or volunteer
-- covers and what is due there, in one call. The user's areas come from the request's context
-- that app_enter set (15_accounts.sql): a grid worker's grids (geo.grids), a community officer's
-- beats' grids in the plan in force (geo.own_grids), a volunteer's villages (geo.villages).
-- Every table is read under its row-level security (these functions run as the caller), so an
-- answer never holds more than the user may see; the areas narrow it to their own.
--
-- Where a thing is: the boundary rule of the lookup (grid_at: the lowest-coded grid whose closed
-- outline holds the point), read as the owner through app_grid_at/app_village_at, so that a
-- house on the border with a neighbour's grid is in exactly one of the two workers' lists.
-- Points strictly inside an area (ST_ContainsProperly) need no boundary test.

-- The village a point belongs to: that of its grid by the boundary rule, whatever the user
-- sees (a volunteer sees no grid). Answers an id only.
CREATE OR REPLACE FUNCTION app_village_at(p geometry) RETURNS int
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN (SELECT g.village_id FROM grid_at(p) g);
END;
$$;
COMMENT ON FUNCTION app_village_at(geometry)
    IS 'Id of the village a point belongs to (the village of its grid by the boundary rule, read as the owner whatever the user sees): whether a point is in a volunteer''s villages.';
REVOKE ALL ON FUNCTION app_village_at(geometry) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_village_at(geometry) TO geo_service_app;

-- The user's own areas as (kind, id, geometry): grids for a grid worker and a community
-- officer, villages for a volunteer; nothing for any other role.
CREATE OR REPLACE FUNCTION me_areas()
RETURNS TABLE (kind text, id int, geom geometry)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 4 AS $$
DECLARE
    -- the ids as values, not as expressions of settings: under row-level security only a
    -- leakproof condition may use an index, and reading a setting is not one (a grid worker's
    -- grid would be found by reading all 20,009 grids of the county)
    ids int[];
BEGIN
    IF app_role() = 'grid_worker' THEN
        ids := app_grids();
        RETURN QUERY SELECT 'grid'::text, g.id, g.geom FROM grid g WHERE g.id = ANY (ids);
    ELSIF app_role() = 'community_officer' THEN
        ids := app_own_grids();
        RETURN QUERY SELECT 'grid'::text, g.id, g.geom FROM grid g WHERE g.id = ANY (ids);
    ELSIF app_role() = 'volunteer' THEN
        ids := app_villages();
        RETURN QUERY SELECT 'village'::text, v.id, v.geom FROM village v WHERE v.id = ANY (ids);
    END IF;
END;
$$;
COMMENT ON FUNCTION me_areas()
    IS 'The signed-in user''s own areas (kind grid or village, id, outline): a grid worker''s grids, a community officer''s beats'' grids in the plan in force, a volunteer''s villages.';

-- The box of the user's own areas (west, south, east, north), for a map that opens on them;
-- NULL when they have none.
CREATE OR REPLACE FUNCTION me_areas_bbox() RETURNS float8[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)]
    FROM (SELECT ST_Extent(a.geom) AS e FROM me_areas() a) x
    WHERE e IS NOT NULL
$$;
COMMENT ON FUNCTION me_areas_bbox()
    IS 'The box (west, south, east, north) of the signed-in user''s own areas (me_areas), for a map that opens on them; NULL when they have none.';

-- Whether a point lies in one of the areas (kind, id, outline) by the boundary rule; the caller
-- has already found it meeting that area's outline.
CREATE OR REPLACE FUNCTION me_holds(kind text, id int, outline geometry, p geometry)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ST_ContainsProperly(outline, p)
        OR CASE kind WHEN 'grid' THEN app_grid_at(p) = id ELSE app_village_at(p) = id END
$$;
COMMENT ON FUNCTION me_holds(text, int, geometry, geometry)
    IS 'Whether a point meeting an area''s outline belongs to it by the boundary rule (strictly inside, or its grid/village by grid_at).';

-- Every item of the user's lists, all of them (the page's lists take the first list_limit of
-- each by pos; the map takes them all): list, code, pos (1 = first in the list's order), urgent
-- (overdue, missing, offline), what the page shows of it, and its point.
--   rentals_due      rental houses whose fire-safety check falls due within due_within_days
--                    (every rental_due_days; never checked: due), overdue first, by due date
--   markers_due      water markers whose inspection falls due likewise (every marker_due_days)
--   markers_broken   missing or damaged markers, missing first
--   cameras_out      cameras out of order (faulty or offline), offline first
--   incidents_recent incidents of the last recent_days in the areas' grids, newest first,
--                    without caller details (no caller phone, address or description)
--   sweep_targets_open targets of the sweeps open at `at` (starts_at <= at < ends_at) in the
--                    areas (the target's point, by the boundary rule) with no inspection of the
--                    thing from the sweep's start until `at`; one item per thing (the sweep
--                    ending first), by the sweep's end; urgent when it ends within
--                    due_within_days. A volunteer reads no sweeps (their policy).
--   reports_mine     the user's own reports (reporter = their name) made by `at` and not closed
--                    by then (status as the steps up to `at` left it), newest first, with the
--                    last step; not limited by area; urgent while not yet accepted (open)
DROP FUNCTION IF EXISTS me_items(timestamptz, int, int, int, int);
CREATE OR REPLACE FUNCTION me_items(
    at timestamptz, marker_due_days int, rental_due_days int, due_within_days int,
    recent_days int
)
RETURNS TABLE (list text, code text, pos int, urgent boolean, props jsonb, geom geometry)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 100 AS $$
DECLARE
    soon timestamptz := at + make_interval(days => due_within_days);
    since timestamptz := at - make_interval(days => recent_days);
    rental_every interval := make_interval(days => rental_due_days);
    marker_every interval := make_interval(days => marker_due_days);
    area_grids int[];
    -- the user's name as a value (an index takes it, not a setting read per row)
    me text := coalesce(current_setting('geo.user_name', true), '');
BEGIN
    SELECT coalesce(array_agg(a.id), '{}') INTO area_grids FROM me_areas() a WHERE a.kind = 'grid';
    RETURN QUERY
    WITH area AS MATERIALIZED (SELECT * FROM me_areas()),
    rentals AS (
        SELECT r.*, r.last_fire_check_at + rental_every AS due_at
        FROM area a JOIN rental_house r ON ST_Intersects(a.geom, r.geom)
        WHERE me_holds(a.kind, a.id, a.geom, r.geom)
          AND (r.last_fire_check_at IS NULL OR r.last_fire_check_at + rental_every <= soon)
    ),
    markers AS (
        SELECT m.*, m.last_inspected_at + marker_every AS due_at,
               w.code AS water_body, w.name AS water_body_name
        FROM area a JOIN water_marker m ON ST_Intersects(a.geom, m.geom)
        LEFT JOIN water_body w ON w.id = m.water_body_id
        WHERE me_holds(a.kind, a.id, a.geom, m.geom)
          AND (m.status IN ('missing', 'damaged') OR m.last_inspected_at IS NULL
               OR m.last_inspected_at + marker_every <= soon)
    ),
    cameras AS (
        SELECT c.* FROM area a JOIN camera c ON ST_Intersects(a.geom, c.geom)
        WHERE me_holds(a.kind, a.id, a.geom, c.geom) AND c.status IN ('faulty', 'offline')
    )
    SELECT 'rentals_due', r.code,
           (row_number() OVER (ORDER BY r.due_at NULLS FIRST, r.code))::int,
           r.due_at IS NULL OR r.due_at <= at,
           jsonb_build_object(
               'kind', 'rental_house', 'code', r.code, 'address', r.address,
               'landlord', r.landlord, 'phone', app_landlord_phone(r.geom, r.phone),
               'rooms', r.rooms, 'tenants', r.tenants, 'last_checked_at', r.last_fire_check_at,
               'due_at', r.due_at, 'overdue', r.due_at IS NULL OR r.due_at <= at),
           r.geom
    FROM rentals r
    UNION ALL
    SELECT 'markers_due', m.code,
           (row_number() OVER (ORDER BY m.due_at NULLS FIRST, m.code))::int,
           m.due_at IS NULL OR m.due_at <= at,
           jsonb_build_object(
               'kind', 'water_marker', 'code', m.code, 'marker_kind', m.kind,
               'status', m.status, 'water_body', m.water_body,
               'water_body_name', m.water_body_name, 'last_inspected_at', m.last_inspected_at,
               'due_at', m.due_at, 'overdue', m.due_at IS NULL OR m.due_at <= at),
           m.geom
    FROM markers m WHERE m.due_at IS NULL OR m.due_at <= soon
    UNION ALL
    SELECT 'markers_broken', m.code,
           (row_number() OVER (ORDER BY m.status DESC, m.code))::int,
           m.status = 'missing',
           jsonb_build_object(
               'kind', 'water_marker', 'code', m.code, 'marker_kind', m.kind,
               'status', m.status, 'water_body', m.water_body,
               'water_body_name', m.water_body_name, 'last_inspected_at', m.last_inspected_at),
           m.geom
    FROM markers m WHERE m.status IN ('missing', 'damaged')
    UNION ALL
    SELECT 'cameras_out', c.code,
           (row_number() OVER (ORDER BY c.status DESC, c.code))::int,
           c.status = 'offline',
           jsonb_build_object(
               'kind', 'camera', 'code', c.code, 'name', c.name, 'camera_kind', c.kind,
               'status', c.status),
           c.geom
    FROM cameras c
    UNION ALL
    SELECT 'incidents_recent', i.call_no,
           (row_number() OVER (ORDER BY i.received_at DESC, i.call_no))::int,
           false,
           jsonb_build_object(
               'kind', 'incident', 'code', i.call_no, 'received_at', i.received_at,
               'category', i.category, 'status', i.status, 'grid', g.code),
           i.geom
    FROM incident i JOIN grid g ON g.id = i.grid_id
    WHERE i.grid_id = ANY (area_grids) AND i.received_at > since AND i.received_at <= at
    UNION ALL
    SELECT 'sweep_targets_open', t.code,
           (row_number() OVER (ORDER BY t.ends_at, t.code))::int,
           t.ends_at <= soon,
           jsonb_build_object(
               'kind', t.kind, 'code', t.code, 'sweep', t.sweep_id, 'sweep_name', t.name,
               'sweep_starts_at', t.starts_at, 'sweep_ends_at', t.ends_at,
               'ends_soon', t.ends_at <= soon) || coalesce(t.thing, '{}'),
           t.geom
    FROM (
        SELECT DISTINCT ON (x.kind, x.thing_id) x.*,
               CASE x.kind
                   WHEN 'rental_house' THEN (
                       SELECT jsonb_build_object('address', r.address, 'landlord', r.landlord)
                       FROM rental_house r WHERE r.id = x.thing_id)
                   WHEN 'water_marker' THEN (
                       SELECT jsonb_build_object('marker_kind', m.kind, 'status', m.status,
                                                 'water_body_name', w.name)
                       FROM water_marker m LEFT JOIN water_body w ON w.id = m.water_body_id
                       WHERE m.id = x.thing_id)
                   WHEN 'camera' THEN (
                       SELECT jsonb_build_object('name', c.name, 'camera_kind', c.kind,
                                                 'status', c.status)
                       FROM camera c WHERE c.id = x.thing_id)
               END AS thing
        FROM (
            SELECT t.sweep_id, t.kind, t.thing_id, t.code, t.geom, s.name, s.starts_at,
                   s.ends_at
            FROM sweep s
            JOIN sweep_target t ON t.sweep_id = s.id
            JOIN area a ON ST_Intersects(a.geom, t.geom)
            WHERE s.starts_at <= at AND at < s.ends_at
              AND me_holds(a.kind, a.id, a.geom, t.geom)
              AND NOT EXISTS (SELECT 1 FROM inspection i
                              WHERE i.kind = t.kind AND i.thing_id = t.thing_id
                                AND i.inspected_at >= s.starts_at AND i.inspected_at <= at)
        ) x
        ORDER BY x.kind, x.thing_id, x.ends_at, x.sweep_id
    ) t
    UNION ALL
    SELECT 'reports_mine', r.id::text,
           (row_number() OVER (ORDER BY r.reported_at DESC, r.id DESC))::int,
           r.status_then = 'open',
           jsonb_build_object(
               'kind', 'report', 'code', r.id::text, 'id', r.id, 'category', r.category,
               'category_name', c.name, 'category_name_en', c.name_en,
               'department', d.code, 'department_name', d.name,
               'department_name_en', d.name_en, 'status', r.status_then,
               'reported_at', r.reported_at, 'note', r.note,
               'last_step', (SELECT jsonb_build_object(
                                 'kind', s.kind, 'at', s.at, 'actor', s.actor, 'note', s.note)
                             FROM report_step s
                             WHERE s.report_id = r.id AND s.at <= me_items.at
                             ORDER BY s.at DESC, s.id DESC LIMIT 1)),
           r.geom
    FROM (
        SELECT x.*,
               CASE WHEN EXISTS (SELECT 1 FROM report_step s WHERE s.report_id = x.id
                                 AND s.kind = 'close' AND s.at <= me_items.at) THEN 'closed'
                    WHEN EXISTS (SELECT 1 FROM report_step s WHERE s.report_id = x.id
                                 AND s.kind = 'accept' AND s.at <= me_items.at) THEN 'accepted'
                    ELSE 'open' END AS status_then
        FROM report x
        WHERE x.reporter = me AND x.reported_at <= at
    ) r
    JOIN report_category c ON c.code = r.category
    JOIN department d ON d.id = r.department_id
    WHERE r.status_then <> 'closed';
END;
$$;
COMMENT ON FUNCTION me_items(timestamptz, int, int, int, int)
    IS 'Every item of the signed-in user''s lists at a moment (rentals_due, markers_due, markers_broken, cameras_out, incidents_recent, sweep_targets_open, reports_mine) with its place in its list, whether it is urgent (overdue, missing, offline), its properties (no caller details) and its point.';

-- The lists' names, in the order the page shows them.
CREATE OR REPLACE FUNCTION me_list_names() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['rentals_due', 'markers_due', 'markers_broken', 'cameras_out',
                 'incidents_recent', 'sweep_targets_open', 'reports_mine']
$$;
COMMENT ON FUNCTION me_list_names()
    IS 'The names of the lists of "my area", in the order the page shows them.';

DROP FUNCTION IF EXISTS my_area(timestamptz, int, int, int, int, int);
CREATE OR REPLACE FUNCTION my_area(
    at timestamptz,
    marker_due_days int,
    rental_due_days int,
    due_within_days int,
    recent_days int,
    list_limit int
)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE
-- generic plans, for this call and the row-level security helpers it calls per row
-- (app_sees_shape and the like): a custom plan is planned again on every call, about 0.3 ms a
-- row read, where the generic plan of an id or outline lookup is as good
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    plan int := plan_in_force(at);
    area_grids int[];
    area_villages int[];
    area_beats int[];
    areas json;
    people json;
    lists json;
BEGIN
    -- the grids of the areas: a volunteer's villages' grids are not theirs to see (no grid rows)
    SELECT coalesce(array_agg(a.id), '{}') INTO area_grids FROM me_areas() a WHERE a.kind = 'grid';
    -- their villages and beats as values too (an index takes a value under row-level security,
    -- not a sub-select's rows: the people's query read 2,040 assignments of the county so)
    SELECT coalesce(array_agg(DISTINCT g.village_id), '{}') INTO area_villages
    FROM grid g WHERE g.id = ANY (area_grids);
    SELECT coalesce(array_agg(DISTINCT bg.beat_id), '{}') INTO area_beats
    FROM beat_grid bg WHERE bg.plan_id = plan AND bg.grid_id = ANY (area_grids);

    SELECT coalesce(json_agg(x ORDER BY x.kind, x.code), '[]') INTO areas FROM (
        SELECT 'grid' AS kind, g.code, g.name, v.code AS village, v.name AS village_name,
               (SELECT b.code FROM beat_grid bg JOIN beat b ON b.id = bg.beat_id
                WHERE bg.grid_id = g.id AND bg.plan_id = plan) AS beat
        FROM grid g LEFT JOIN village v ON v.id = g.village_id
        WHERE g.id = ANY (area_grids)
        UNION ALL
        SELECT 'village', v.code, v.name, v.code, v.name, NULL
        FROM me_areas() a JOIN village v ON v.id = a.id
        WHERE a.kind = 'village'
    ) x;

    -- The people covering the areas now: assignments in force on the grids, their villages,
    -- the beats holding them in the plan in force, and the station's (each read under its
    -- policy: a volunteer sees none).
    SELECT coalesce(json_agg(x ORDER BY x.rank, x.role, x.code, x.area_kind, x.area_code), '[]')
    INTO people FROM (
        SELECT DISTINCT p.code, p.name, a.role, app_phone(p.id, p.phone) AS phone,
               a.area_kind, coalesce(g.code, v.code, b.code, s.code) AS area_code,
               array_position(ARRAY['community_officer', 'auxiliary_officer', 'grid_worker',
                                    'police_assistant', 'village_cadre', 'volunteer'],
                              a.role) AS rank
        FROM (
            SELECT a.* FROM assignment a WHERE a.grid_id = ANY (area_grids)
            UNION
            SELECT a.* FROM assignment a WHERE a.village_id = ANY (area_villages)
            UNION
            SELECT a.* FROM assignment a WHERE a.beat_id = ANY (area_beats)
            UNION
            SELECT a.* FROM assignment a
            WHERE a.area_kind = 'station' AND cardinality(area_grids) > 0
        ) a
        JOIN person p ON p.id = a.person_id
        LEFT JOIN grid g ON g.id = a.grid_id
        LEFT JOIN village v ON v.id = a.village_id
        LEFT JOIN beat b ON b.id = a.beat_id
        LEFT JOIN station s ON s.id = a.station_id
        WHERE a.validity @> now()
    ) x;

    WITH items AS MATERIALIZED (
        SELECT * FROM me_items(at, marker_due_days, rental_due_days, due_within_days,
                               recent_days)
    ),
    per_list AS (
        SELECT n.list, n.ord,
               (SELECT count(*) FROM items i WHERE i.list = n.list) AS total,
               (SELECT count(*) FROM items i WHERE i.list = n.list AND i.urgent) AS urgent,
               (SELECT coalesce(jsonb_agg(i.props || jsonb_build_object(
                            'lon', round(ST_X(i.geom)::numeric, 6),
                            'lat', round(ST_Y(i.geom)::numeric, 6)) ORDER BY i.pos), '[]')
                FROM items i WHERE i.list = n.list AND i.pos <= list_limit) AS shown
        FROM unnest(me_list_names()) WITH ORDINALITY AS n (list, ord)
    )
    SELECT json_object_agg(l.list, json_build_object(
               'count', l.total, 'urgent', l.urgent, 'items', l.shown) ORDER BY l.ord)
    INTO lists FROM per_list l;

    RETURN json_build_object(
        'at', at,
        'role', app_role(),
        'user', current_setting('geo.user_name', true),
        'plan', (SELECT p.code FROM beat_plan p WHERE p.id = plan),
        'due_within_days', due_within_days,
        'marker_due_days', marker_due_days,
        'rental_due_days', rental_due_days,
        'recent_days', recent_days,
        'list_limit', list_limit,
        'areas', areas,
        'people', people,
        'lists', lists);
END;
$$;
COMMENT ON FUNCTION my_area(timestamptz, int, int, int, int, int)
    IS 'The signed-in user''s areas, the people covering them (phones as the user may see them) and their lists (me_items) with counts, urgent counts (overdue, missing, offline) and the first list_limit items of each.';

-- The water layer tells the dusk patrols (傍晚巡河) as the water map does, by the same two
-- definitions of 78_field.sql: checked in this evening (field_patrolled_evening: from 16:00
-- station time of the day of `at` until `at`) and marked for patrol at `at`
-- (field_patrol_marked). PL/pgSQL, so that it may call them although that file comes later.
DROP FUNCTION IF EXISTS my_area_map(timestamptz, int, int, int, int);
CREATE OR REPLACE FUNCTION my_area_map(
    at timestamptz, marker_due_days int, rental_due_days int, due_within_days int,
    recent_days int
)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN (
    WITH area AS MATERIALIZED (SELECT * FROM me_areas()),
    -- the areas' box and 300 m around it (EPSG:4549), for the basemap drawn under them
    box AS (
        SELECT ST_Extent(a.geom) AS e,
               ST_Transform(ST_Expand(ST_Transform(ST_SetSRID(ST_Extent(a.geom)::geometry,
                                                              4326), 4549), 300),
                            4326) AS b
        FROM area a HAVING count(*) > 0
    ),
    -- the neutral basemap (villages, water, roads) within the box, as the user sees it,
    -- clipped to the box and simplified by 2 m
    base AS (
        SELECT 1 AS o, 'basemap_village' AS layer, v.code, v.name, v.geom,
               '{}'::jsonb AS patrol
        FROM village v, box WHERE v.geom && box.b
        UNION ALL
        SELECT 2, 'basemap_water', w.code, w.name, w.geom,
               jsonb_build_object('marked', field_patrol_marked(w.id, my_area_map.at),
                                  'patrolled', e.code IS NOT NULL,
                                  'check_ins', coalesce(e.check_ins, 0), 'last_at', e.last_at)
        FROM water_body w CROSS JOIN box
        LEFT JOIN field_patrolled_evening(my_area_map.at) e ON e.code = w.code
        WHERE w.geom && box.b
        UNION ALL
        SELECT 3, 'basemap_road', r.code, r.name, r.geom, '{}'::jsonb
        FROM road r, box WHERE r.geom && box.b
    )
    SELECT json_build_object(
        'type', 'FeatureCollection',
        'at', at,
        'bbox', (SELECT json_build_array(ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e))
                 FROM box),
        'features', coalesce((
            SELECT json_agg(x.f ORDER BY x.o, x.pos)
            FROM (
                SELECT b.o, row_number() OVER (ORDER BY b.o, b.code) AS pos, json_build_object(
                           'type', 'Feature', 'id', b.layer || ':' || b.code,
                           'geometry', ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(
                               ST_Transform(ST_ClipByBox2D(b.geom, box.b), 4549), 2), 4326),
                               6)::json,
                           'properties', jsonb_build_object(
                               'layer', b.layer, 'code', b.code, 'name', b.name)
                               || b.patrol) AS f
                FROM base b, box
                WHERE NOT ST_IsEmpty(ST_ClipByBox2D(b.geom, box.b))
                UNION ALL
                SELECT 10, 0, json_build_object(
                           'type', 'Feature', 'id', a.kind || ':' || coalesce(g.code, v.code),
                           'geometry', ST_AsGeoJSON(a.geom, 6)::json,
                           'properties', json_build_object(
                               'layer', 'area', 'kind', a.kind,
                               'code', coalesce(g.code, v.code),
                               'name', coalesce(g.name, v.name)))
                FROM area a
                LEFT JOIN grid g ON a.kind = 'grid' AND g.id = a.id
                LEFT JOIN village v ON a.kind = 'village' AND v.id = a.id
                UNION ALL
                SELECT 9, row_number() OVER (ORDER BY m.code), json_build_object(
                           'type', 'Feature', 'id', 'water_marker:' || m.code,
                           'geometry', ST_AsGeoJSON(m.geom, 6)::json,
                           'properties', json_build_object(
                               'layer', 'water_marker', 'kind', 'water_marker', 'code', m.code,
                               'marker_kind', m.kind, 'status', m.status,
                               'water_body', (SELECT w.code FROM water_body w
                                              WHERE w.id = m.water_body_id)))
                FROM area a JOIN water_marker m ON ST_Intersects(a.geom, m.geom)
                WHERE me_holds(a.kind, a.id, a.geom, m.geom)
                UNION ALL
                SELECT 10 + array_position(me_list_names(), i.list), i.pos, json_build_object(
                           'type', 'Feature', 'id', i.list || ':' || i.code,
                           'geometry', ST_AsGeoJSON(i.geom, 6)::json,
                           'properties', i.props || jsonb_build_object(
                               'layer', i.list, 'urgent', i.urgent))
                FROM me_items(at, marker_due_days, rental_due_days, due_within_days,
                              recent_days) i
            ) x (o, pos, f)), '[]')));
END;
$$;
COMMENT ON FUNCTION my_area_map(timestamptz, int, int, int, int)
    IS 'GeoJSON of the signed-in user''s areas (layer area), every water marker in them (layer water_marker, for a dusk check-in), every item of their lists (layer: the list''s name, with urgent) and under them the basemap within 300 m of the areas'' box as the user sees it (layers basemap_village, basemap_water, basemap_road; a water with its dusk patrol: marked for patrol at the moment, patrolled this evening (from 16:00 station time until then), check_ins, last_at), with the areas'' bbox.';
