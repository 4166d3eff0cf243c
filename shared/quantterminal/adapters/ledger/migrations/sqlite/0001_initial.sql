-- QuantTerminal ledger, SQLite (the embedded twin of the PostgreSQL ledger).
-- Times are integer microseconds since the Unix epoch (UTC); money is exact decimal text.
-- No partitioning: retention deletes old rows instead of dropping partitions.

CREATE TABLE bars (
    symbol       TEXT    NOT NULL,
    ts           INTEGER NOT NULL,
    open         REAL    NOT NULL,
    high         REAL    NOT NULL,
    low          REAL    NOT NULL,
    close        REAL    NOT NULL,
    volume       INTEGER NOT NULL,
    vwap         REAL,
    trade_count  INTEGER,
    revision     INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (symbol, ts)
) WITHOUT ROWID;

CREATE TABLE ticks (
    symbol      TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    exchange    TEXT    NOT NULL DEFAULT '',
    trade_id    TEXT    NOT NULL,
    price       REAL    NOT NULL,
    size        INTEGER NOT NULL,
    conditions  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (symbol, ts, exchange, trade_id)
) WITHOUT ROWID;

CREATE TABLE orders (
    client_order_id TEXT    PRIMARY KEY,
    strategy        TEXT    NOT NULL,
    symbol          TEXT    NOT NULL,
    side            TEXT    NOT NULL CHECK (side IN ('buy', 'sell')),
    qty             INTEGER NOT NULL CHECK (qty > 0),
    order_type      TEXT    NOT NULL,
    limit_price     TEXT,
    decision_time   INTEGER NOT NULL,
    decision_price  TEXT    NOT NULL
);
CREATE INDEX orders_decision_time ON orders (decision_time);

CREATE TABLE order_events (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id          TEXT    NOT NULL UNIQUE,
    client_order_id   TEXT    NOT NULL,
    event             TEXT    NOT NULL,
    ts                INTEGER NOT NULL,
    filled_qty        INTEGER NOT NULL DEFAULT 0,
    filled_avg_price  TEXT,
    broker_order_id   TEXT,
    details           TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX order_events_order ON order_events (client_order_id, seq);

CREATE TABLE fills (
    execution_id     TEXT    PRIMARY KEY,
    client_order_id  TEXT    NOT NULL,
    symbol           TEXT    NOT NULL,
    side             TEXT    NOT NULL CHECK (side IN ('buy', 'sell')),
    qty              INTEGER NOT NULL CHECK (qty > 0),
    price            TEXT    NOT NULL,
    commission       TEXT    NOT NULL DEFAULT '0',
    ts               INTEGER NOT NULL
);
CREATE INDEX fills_ts ON fills (ts);

CREATE TABLE signals (
    strategy   TEXT    NOT NULL,
    symbol     TEXT    NOT NULL,
    bar_time   INTEGER NOT NULL,
    direction  TEXT    NOT NULL CHECK (direction IN ('long', 'flat', 'short')),
    price      REAL    NOT NULL,
    PRIMARY KEY (strategy, symbol, bar_time)
);
CREATE INDEX signals_bar_time ON signals (bar_time);

CREATE TABLE risk_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts        INTEGER NOT NULL,
    account   TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    strategy  TEXT,
    symbol    TEXT,
    details   TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX risk_events_ts ON risk_events (ts);

CREATE TABLE equity_snapshots (
    account  TEXT    NOT NULL,
    ts       INTEGER NOT NULL,
    equity   TEXT    NOT NULL,
    cash     TEXT    NOT NULL,
    PRIMARY KEY (account, ts)
);

CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only: UPDATE refused'); END;
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only: DELETE refused'); END;
CREATE TRIGGER fills_no_update BEFORE UPDATE ON fills
BEGIN SELECT RAISE(ABORT, 'fills is append-only: UPDATE refused'); END;
CREATE TRIGGER fills_no_delete BEFORE DELETE ON fills
BEGIN SELECT RAISE(ABORT, 'fills is append-only: DELETE refused'); END;
CREATE TRIGGER risk_events_no_update BEFORE UPDATE ON risk_events
BEGIN SELECT RAISE(ABORT, 'risk_events is append-only: UPDATE refused'); END;
CREATE TRIGGER risk_events_no_delete BEFORE DELETE ON risk_events
BEGIN SELECT RAISE(ABORT, 'risk_events is append-only: DELETE refused'); END;
