-- Work in the field (issue 14): inspections recorded on the spot with their photos, sweeps
-- (梳网清格) with their targets, the waters marked for dusk shore patrols (傍晚巡河), and reports
-- (网格吹哨) routed to departments with their timeline. History is appended, never overwritten:
-- an inspection or a report step is never changed once stored. The writes go through the
-- functions of sql/functions/78_field.sql and 79_reports.sql (SECURITY DEFINER, each checking
-- the user's areas); the service's role only reads these tables (93_access_field.sql).

-- One inspection (巡查) of one thing: a water marker, a rental house (its fire-safety check), a
-- camera, or a water body (a dusk patrol check-in; the rescue poles seen on the way are
-- inspections of their own, tied to it by check_in_id). client_id is made by the phone, so a
-- request sent twice stores one inspection.
CREATE TABLE inspection (
    id            bigserial PRIMARY KEY,
    client_id     uuid NOT NULL UNIQUE,
    kind          text NOT NULL CHECK (kind IN ('water_marker', 'rental_house', 'camera',
                                                'water_body')),
    thing_id      int NOT NULL,
    code          text NOT NULL,
    inspected_at  timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    inspector     text NOT NULL,             -- the user's name ('sample' for the sample)
    person_id     int REFERENCES person (id),
    result        text NOT NULL,
    -- a rental house's fire-safety items: {"extinguisher": "ok"|"problem", "escape_route": …,
    -- "wiring": …, "ebike_indoor_charging": …}
    items         jsonb,
    fix_what      text CHECK (length(fix_what) <= 2000),
    fix_by        date,
    note          text CHECK (length(note) <= 4000),
    position      geometry(Point, 4326),     -- where the inspector was
    accuracy_m    real CHECK (accuracy_m >= 0),
    check_in_id   bigint REFERENCES inspection (id),
    photos        smallint NOT NULL DEFAULT 0 CHECK (photos BETWEEN 0 AND 3),
    CHECK (kind <> 'water_marker' OR result IN ('ok', 'damaged', 'missing', 'replaced')),
    CHECK (kind <> 'rental_house' OR result IN ('pass', 'fail')),
    CHECK (kind <> 'camera' OR result IN ('working', 'faulty', 'offline')),
    CHECK (kind <> 'water_body' OR result IN ('patrolled', 'hazard')),
    CHECK ((kind = 'rental_house') = (items IS NOT NULL)),
    CHECK (result <> 'fail' OR (fix_what IS NOT NULL AND fix_by IS NOT NULL)),
    CHECK (check_in_id IS NULL OR kind = 'water_marker')
);
CREATE INDEX inspection_thing_idx ON inspection (kind, thing_id, inspected_at);
CREATE INDEX inspection_at_idx ON inspection (inspected_at);
CREATE INDEX inspection_check_in_idx ON inspection (check_in_id) WHERE check_in_id IS NOT NULL;

-- Up to three photos of an inspection, JPEG or PNG, as sent less their location data.
-- Photos are compressed already: stored out of line without trying to compress them again.
CREATE TABLE inspection_photo (
    inspection_id bigint NOT NULL REFERENCES inspection (id) ON DELETE CASCADE,
    n             smallint NOT NULL CHECK (n BETWEEN 1 AND 3),
    media_type    text NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png')),
    width         int NOT NULL CHECK (width > 0),
    height        int NOT NULL CHECK (height > 0),
    sha256        bytea NOT NULL,
    bytes         bytea NOT NULL,
    PRIMARY KEY (inspection_id, n)
);
ALTER TABLE inspection_photo ALTER COLUMN bytes SET STORAGE EXTERNAL;

-- The waters marked for dusk shore patrols (傍晚巡河) in the summer months.
CREATE TABLE patrol_water (
    water_body_id int PRIMARY KEY REFERENCES water_body (id) ON DELETE CASCADE,
    marked_at     timestamptz NOT NULL DEFAULT now()
);

-- A sweep (梳网清格): a period, its grids, and the kinds of thing to visit. Its targets are the
-- things of those kinds in its grids when it was opened; a target is done when an inspection of
-- it is recorded within the period.
CREATE TABLE sweep (
    id           serial PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    target_kinds text[] NOT NULL CHECK (cardinality(target_kinds) > 0
        AND target_kinds <@ ARRAY['rental_house', 'water_marker', 'camera']),
    opened_by    text NOT NULL,
    opened_at    timestamptz NOT NULL DEFAULT now(),
    note         text CHECK (length(note) <= 4000),
    CHECK (ends_at > starts_at)
);

CREATE TABLE sweep_grid (
    sweep_id int NOT NULL REFERENCES sweep (id) ON DELETE CASCADE,
    grid_id  int NOT NULL REFERENCES grid (id),
    PRIMARY KEY (sweep_id, grid_id)
);
CREATE INDEX sweep_grid_grid_idx ON sweep_grid (grid_id);

CREATE TABLE sweep_target (
    sweep_id int NOT NULL REFERENCES sweep (id) ON DELETE CASCADE,
    kind     text NOT NULL CHECK (kind IN ('rental_house', 'water_marker', 'camera')),
    thing_id int NOT NULL,
    code     text NOT NULL,
    grid_id  int NOT NULL REFERENCES grid (id),
    geom     geometry(Point, 4326) NOT NULL,
    PRIMARY KEY (sweep_id, kind, thing_id)
);
CREATE INDEX sweep_target_grid_idx ON sweep_target (grid_id);

-- Departments a report is routed to (部门报到): the station, the town's departments and the
-- non-police response team (民情110); each category of report has one.
CREATE TABLE department (
    id    serial PRIMARY KEY,
    code  text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9_]{1,40}$'),
    name  text NOT NULL,
    name_en text NOT NULL,
    kind  text NOT NULL CHECK (kind IN ('station', 'town', 'response_team')),
    phone text CHECK (phone ~ '^[0-9+\-]{3,20}$')
);

CREATE TABLE report_category (
    code          text PRIMARY KEY CHECK (code ~ '^[a-z0-9_]{1,40}$'),
    name          text NOT NULL,
    name_en       text NOT NULL,
    department_id int NOT NULL REFERENCES department (id)
);

INSERT INTO department (code, name, name_en, kind) VALUES
    ('station', '派出所', 'Police station', 'station'),
    ('town_safety', '镇应急管理办', 'Town emergency management office', 'town'),
    ('town_water', '镇水利站', 'Town water conservancy station', 'town'),
    ('town_urban', '镇综合行政执法队', 'Town urban management', 'town'),
    ('town_mediation', '镇综治中心', 'Town mediation centre', 'town'),
    ('response_team', '民情110', 'Non-police response team', 'response_team');

INSERT INTO report_category (code, name, name_en, department_id)
SELECT c.code, c.name, c.name_en, d.id
FROM (VALUES
    ('fire_hazard', '消防隐患', 'Fire hazard', 'town_safety'),
    ('water_hazard', '水域隐患', 'Water hazard', 'town_water'),
    ('road_hazard', '道路隐患', 'Road hazard', 'town_urban'),
    ('environment', '环境卫生', 'Environment and sanitation', 'town_urban'),
    ('dispute', '矛盾纠纷', 'Dispute', 'town_mediation'),
    ('public_order', '治安问题', 'Public order', 'station'),
    ('help', '群众求助', 'Help for a resident', 'response_team'),
    ('other', '其他', 'Other', 'response_team')
) AS c (code, name, name_en, department)
JOIN department d ON d.code = c.department;

-- A report (网格吹哨) by a grid worker, volunteer or community officer: a category, a note, up to
-- three photos, a place. Its status follows its steps (route, accept, close).
CREATE TABLE report (
    id            bigserial PRIMARY KEY,
    client_id     uuid NOT NULL UNIQUE,
    category      text NOT NULL REFERENCES report_category (code),
    department_id int NOT NULL REFERENCES department (id),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'closed')),
    note          text NOT NULL CHECK (length(note) BETWEEN 1 AND 4000),
    geom          geometry(Point, 4326) NOT NULL,
    grid_id       int REFERENCES grid (id),
    village_id    int REFERENCES village (id),
    reporter      text NOT NULL,
    person_id     int REFERENCES person (id),
    reported_at   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    photos        smallint NOT NULL DEFAULT 0 CHECK (photos BETWEEN 0 AND 3)
);
CREATE INDEX report_status_idx ON report (status, reported_at);
CREATE INDEX report_department_idx ON report (department_id, reported_at);
CREATE INDEX report_reporter_idx ON report (reporter, reported_at);
CREATE INDEX report_grid_idx ON report (grid_id);
CREATE INDEX report_geom_gix ON report USING gist (geom);

CREATE TABLE report_step (
    id            bigserial PRIMARY KEY,
    report_id     bigint NOT NULL REFERENCES report (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('route', 'accept', 'close', 'note')),
    at            timestamptz NOT NULL,
    actor         text NOT NULL,
    department_id int REFERENCES department (id),
    note          text CHECK (length(note) <= 4000),
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_step_report_idx ON report_step (report_id, at);

CREATE TABLE report_photo (
    report_id  bigint NOT NULL REFERENCES report (id) ON DELETE CASCADE,
    n          smallint NOT NULL CHECK (n BETWEEN 1 AND 3),
    media_type text NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png')),
    width      int NOT NULL CHECK (width > 0),
    height     int NOT NULL CHECK (height > 0),
    sha256     bytea NOT NULL,
    bytes      bytea NOT NULL,
    PRIMARY KEY (report_id, n)
);
ALTER TABLE report_photo ALTER COLUMN bytes SET STORAGE EXTERNAL;
