-- Water bodies cut into small pieces, for distance tests near long rivers. A river outline can
-- have thousands of vertices and a bounding box that covers much of the town, so "which water
-- is within 200 m of this point" used to test the whole outline for most points. Pieces of at
-- most 64 vertices each (ST_Subdivide) have small boxes: the index finds the few pieces near
-- the point, and each exact test is cheap. The pieces together are exactly the water body, so
-- the distance to the water body is the least distance to its pieces.
-- The table is kept in step with water_body by the trigger below; nothing else writes to it.

CREATE TABLE water_body_piece (
    water_body_id   int NOT NULL REFERENCES water_body (id) ON DELETE CASCADE ON UPDATE CASCADE,
    geom            geometry(Polygon, 4326) NOT NULL,
    -- the piece in EPSG:4549 (CGCS2000 / 3-degree GK, CM 120°E), for distances in metres
    geom_metric     geometry(Polygon, 4549) GENERATED ALWAYS AS (ST_Transform(geom, 4549)) STORED
);
CREATE INDEX water_body_piece_body_idx ON water_body_piece (water_body_id);
CREATE INDEX water_body_piece_geom_gix ON water_body_piece USING gist (geom);
CREATE INDEX water_body_piece_metric_gix ON water_body_piece USING gist (geom_metric);

CREATE FUNCTION water_body_pieces(outline geometry)
RETURNS SETOF geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT d.geom
    FROM ST_Subdivide(outline, 64) AS s (piece),
         ST_Dump(ST_CollectionExtract(s.piece, 3)) AS d
$$;
COMMENT ON FUNCTION water_body_pieces(geometry)
    IS 'The polygons of at most 64 vertices that a water body''s outline is cut into (ST_Subdivide); together they cover exactly the outline.';

CREATE FUNCTION water_body_pieces_follow()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM water_body_piece WHERE water_body_id = NEW.id;
    END IF;
    INSERT INTO water_body_piece (water_body_id, geom)
    SELECT NEW.id, piece FROM water_body_pieces(NEW.geom) AS piece;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION water_body_pieces_follow()
    IS 'Trigger: a water body inserted, or its outline changed, gets its pieces (water_body_piece) cut anew; a deleted one loses them by the foreign key''s cascade.';

CREATE TRIGGER water_body_pieces_on_insert
    AFTER INSERT ON water_body
    FOR EACH ROW EXECUTE FUNCTION water_body_pieces_follow();
CREATE TRIGGER water_body_pieces_on_update
    AFTER UPDATE OF geom ON water_body
    -- a function, not IS DISTINCT FROM: geometry's = operator is ambiguous under the empty
    -- search_path pg_restore runs with, so a backup with that trigger would not restore
    FOR EACH ROW WHEN (NOT ST_OrderingEquals(OLD.geom, NEW.geom))
    EXECUTE FUNCTION water_body_pieces_follow();

-- the water bodies already stored
INSERT INTO water_body_piece (water_body_id, geom)
SELECT wb.id, piece FROM water_body wb, water_body_pieces(wb.geom) AS piece;
ANALYZE water_body_piece;
