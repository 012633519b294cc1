-- The command room's desk (issue 12): what call intake keeps beyond migration 015. A call's
-- repeat links (earlier incidents of the same caller phone, or near it with the same category,
-- found once when it is taken) and, for a diverted call, when the response team is due to
-- accept it.
ALTER TABLE incident
    ADD COLUMN repeat_of bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN diversion_due_at timestamptz;
