-- Risk events get a natural key, so that a re-run over the same bars records each refusal once.
-- Rows written before this migration keep a NULL key (NULLs never collide).
ALTER TABLE risk_events ADD COLUMN event_key TEXT;
CREATE UNIQUE INDEX risk_events_event_key ON risk_events (event_key);

-- Records that could not be written, with the reason, kept for inspection (qterm db quarantine).
CREATE TABLE quarantine (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    record       TEXT    NOT NULL,
    recorded_at  INTEGER NOT NULL
);
CREATE INDEX quarantine_recorded_at ON quarantine (recorded_at);
