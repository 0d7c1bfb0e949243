-- Quarantine keeps every rejected document, whatever it carries (spec §5):
--   raw_document  the document's JSON text exactly as received, as text. A lone surrogate or
--                 a NUL arrives as a \uXXXX escape and is kept as those six characters, which
--                 text can hold where jsonb cannot; so nothing is dropped.
--   document      the same as jsonb when jsonb can hold it (NULL otherwise: a lone surrogate,
--                 a NUL, a number beyond a double, nesting deeper than 64, an oversize document).
--   reason_code   why, as a stable code (docs/troubleshooting.md lists them); `reason` says it
--                 in words.
ALTER TABLE quarantined_documents
    ADD COLUMN raw_document text,
    ADD COLUMN reason_code  text NOT NULL DEFAULT 'invalid_document',
    ALTER COLUMN document DROP NOT NULL;
-- Rows from before this migration were all validation failures (the processor names the
-- code of every new row).
UPDATE quarantined_documents SET raw_document = document::text WHERE raw_document IS NULL;
CREATE INDEX quarantined_documents_reason_code_idx ON quarantined_documents (reason_code);
