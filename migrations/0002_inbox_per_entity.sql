-- Idempotency records are kept per entity: a message_id reused on another entity's queue
-- is another request, not a redelivery (SPEC section 6).
ALTER TABLE webhook_inbox DROP CONSTRAINT webhook_inbox_pkey;
ALTER TABLE webhook_inbox ADD PRIMARY KEY (entity, message_id);
