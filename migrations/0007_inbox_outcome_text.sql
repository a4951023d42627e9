-- Idempotency records keep their outcome as the worker wrote it, as text (issue 8): as
-- jsonb, every PUT's record was parsed (~2.5 KB) and its ~90 keys sorted by PostgreSQL,
-- then compressed with pglz, ~100 us of its CPU per PUT on the bench machine; nothing reads
-- it but the worker, which parses it itself. lz4 compresses it where the server has it.
--
-- A new column rather than a change of type, so that no record is rewritten under a lock
-- while workers wait: records written before keep their `outcome` (jsonb) and are read
-- from it until the retention prunes them (SPEC section 6, 7 days by default); a later
-- migration may then drop `outcome`.
ALTER TABLE webhook_inbox ADD COLUMN outcome_text text;
ALTER TABLE webhook_inbox ALTER COLUMN outcome DROP NOT NULL;
ALTER TABLE webhook_inbox ADD CONSTRAINT webhook_inbox_outcome_given
    CHECK (outcome IS NOT NULL OR outcome_text IS NOT NULL) NOT VALID;
DO $$
BEGIN
    ALTER TABLE webhook_inbox ALTER COLUMN outcome_text SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'no lz4 in this server: webhook_inbox.outcome_text keeps pglz';
END $$;
