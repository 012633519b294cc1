-- A department's answer to a report (部门报到, issue 14 §5/§6) carries a client-made id, like an
-- inspection or a report: a step resent after its answer was lost is stored once
-- (field_report_step answers the report as stored). The steps stored before have none, and a
-- step recorded without one (the sample, an import, an older page) still may.

ALTER TABLE report_step
    ADD COLUMN client_id uuid CONSTRAINT report_step_client_id_key UNIQUE;
COMMENT ON COLUMN report_step.client_id
    IS 'Made by the client that sent the step: the same id again is the same step (NULL: none sent).';
