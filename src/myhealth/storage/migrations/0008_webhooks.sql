-- Oura webhooks (docs/webhooks.md).
--
--   * webhook_events: every event the API's receiver accepted, recorded before it answers
--     2xx. The API connects as the read-only role, which may INSERT here and nothing else
--     (reader_access.READER_INSERT_RELATIONS); the processor's webhook worker claims the
--     pending rows, fetches each document and marks the row done. The unique
--     (signature_timestamp, signature) pair is the replay guard shared by every API replica.
--   * webhook_documents: per document, the newest event_time applied, so duplicate and
--     out-of-order events change nothing (an older event than the one applied is superseded).
--   * oura_documents.deleted_at: a `delete` event keeps the document in the archive but marks
--     it; the typed row is removed, so the views (0002) and the API no longer show it.

CREATE TABLE webhook_events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at         timestamptz NOT NULL DEFAULT now(),
    signature_timestamp bigint      NOT NULL,
    signature           text        NOT NULL,
    event_type          text        NOT NULL CHECK (event_type IN ('create', 'update', 'delete')),
    data_type           text        NOT NULL,
    object_id           text        NOT NULL CHECK (length(object_id) BETWEEN 1 AND 256),
    event_time          timestamptz NOT NULL,
    user_id             text        NOT NULL,
    -- pending → done | superseded | not_found | unsupported | failed (worker.Outcome)
    status              text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'done', 'superseded', 'not_found', 'unsupported', 'failed')),
    attempts            integer     NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    last_error          text,
    processed_at        timestamptz,
    UNIQUE (signature_timestamp, signature)
);
CREATE INDEX webhook_events_pending_idx ON webhook_events (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at DESC);

CREATE TABLE webhook_documents (
    data_type       text        NOT NULL,
    object_id       text        NOT NULL,
    last_event_time timestamptz NOT NULL,
    last_event_type text        NOT NULL,
    PRIMARY KEY (data_type, object_id)
);

ALTER TABLE oura_documents ADD COLUMN deleted_at timestamptz;
