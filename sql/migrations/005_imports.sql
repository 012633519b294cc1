-- A record of every layer import: the source file, the layer, the CRS it came in and how it was
-- converted to storage, the counts and the whole report. Written in the import's transaction.

CREATE TABLE import_run (
    id              serial PRIMARY KEY,
    layer           text NOT NULL,
    source_file     text NOT NULL,
    source_layer    text,
    source_format   text NOT NULL,
    source_crs      text,
    conversion      text,
    mode            text NOT NULL CHECK (mode IN ('replace', 'upsert', 'append')),
    rows_read       int NOT NULL,
    added           int NOT NULL,
    updated         int NOT NULL,
    removed         int NOT NULL,
    report          jsonb NOT NULL,
    imported_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX import_run_layer_idx ON import_run (layer, imported_at);
