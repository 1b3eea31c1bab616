-- One transactional outbox for everything ingest sends after its transaction: derived events for the
-- events queue, and dead-letter entries for the ingest DLQ. Both are written in the batch's
-- transaction, so a record is dead-lettered exactly when its batch commits (never before, never
-- twice), and sent once the transaction is over: no SQS call holds a row lock.
-- (destination, message_id) is the message's identity: a dead letter is keyed by the stream record
-- it holds and a derived event by its deterministic id, so a redelivered batch adds nothing.
-- Sent messages stay (sent_at) for eight days, longer than any stream retention a stage uses, so a
-- record redelivered within that time is recognised and not dead-lettered again; maintenance prunes.
-- claimed_until lets one sender claim rows with a single UPDATE ... SKIP LOCKED (no session state,
-- so RDS Proxy keeps multiplexing); a crashed sender's claim expires and another sends them.
-- body is text, not jsonb: jsonb refuses \u0000 escapes, which an invalid record's detail may hold.
CREATE TABLE outbox (
  destination   text        NOT NULL CHECK (destination IN ('events', 'ingest-dlq')),
  message_id    text        NOT NULL,
  body          text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  claimed_until timestamptz NOT NULL DEFAULT '-infinity',
  sent_at       timestamptz,
  PRIMARY KEY (destination, message_id)
);
CREATE INDEX outbox_unsent_idx ON outbox (created_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL;

INSERT INTO outbox (destination, message_id, body, created_at)
SELECT 'events', event_id, body::text, created_at FROM event_outbox;
DROP TABLE event_outbox;
