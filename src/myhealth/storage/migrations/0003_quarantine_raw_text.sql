-- Quarantine keeps every rejected document, whatever it carries (docs/troubleshooting.md#quarantined-documents):
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

-- The same document quarantined again (the collector re-fetches the trailing days every run)
-- is one row, not one per run: the first receipt is kept. Exact duplicates from before this
-- migration are folded into their earliest row.
DELETE FROM quarantined_documents AS later
USING quarantined_documents AS earlier
WHERE later.data_type = earlier.data_type
  AND md5(later.raw_document) = md5(earlier.raw_document)
  AND later.quarantine_id > earlier.quarantine_id;
CREATE UNIQUE INDEX quarantined_documents_once_idx
    ON quarantined_documents (data_type, md5(raw_document));
