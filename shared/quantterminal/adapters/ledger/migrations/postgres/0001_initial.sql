-- QuantTerminal ledger, PostgreSQL (Aurora Serverless v2 in AWS).
-- Market data prices are double precision (they arrive as floats and are only ever measured);
-- money is numeric. Time-series tables are range-partitioned by time (Aurora has no TimescaleDB):
-- bars monthly, ticks daily. Partitions are created ahead and on demand by the adapter.

CREATE TABLE bars (
    symbol       text             NOT NULL,
    ts           timestamptz      NOT NULL,   -- bar start
    open         double precision NOT NULL,
    high         double precision NOT NULL,
    low          double precision NOT NULL,
    close        double precision NOT NULL,
    volume       bigint           NOT NULL,
    vwap         double precision,
    trade_count  integer,
    revision     integer          NOT NULL DEFAULT 0,   -- times the provider revised this bar
    updated_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, ts)
) PARTITION BY RANGE (ts);

CREATE TABLE ticks (
    symbol      text             NOT NULL,
    ts          timestamptz      NOT NULL,
    exchange    text             NOT NULL DEFAULT '',
    trade_id    text             NOT NULL,
    price       double precision NOT NULL,
    size        bigint           NOT NULL,
    conditions  text             NOT NULL DEFAULT '',   -- comma-separated condition codes
    PRIMARY KEY (symbol, ts, exchange, trade_id)
) PARTITION BY RANGE (ts);

CREATE TABLE orders (
    client_order_id text        PRIMARY KEY,
    strategy        text        NOT NULL,
    symbol          text        NOT NULL,
    side            text        NOT NULL CHECK (side IN ('buy', 'sell')),
    qty             bigint      NOT NULL CHECK (qty > 0),
    order_type      text        NOT NULL,
    limit_price     numeric,
    decision_time   timestamptz NOT NULL,
    decision_price  numeric     NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_decision_time ON orders (decision_time);

CREATE TABLE order_events (
    seq               bigserial   NOT NULL,
    event_id          text        PRIMARY KEY,
    client_order_id   text        NOT NULL,
    event             text        NOT NULL,
    ts                timestamptz NOT NULL,
    filled_qty        bigint      NOT NULL DEFAULT 0,
    filled_avg_price  numeric,
    broker_order_id   text,
    details           jsonb       NOT NULL DEFAULT '{}',
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order ON order_events (client_order_id, seq);

CREATE TABLE fills (
    execution_id     text        PRIMARY KEY,
    client_order_id  text        NOT NULL,
    symbol           text        NOT NULL,
    side             text        NOT NULL CHECK (side IN ('buy', 'sell')),
    qty              bigint      NOT NULL CHECK (qty > 0),
    price            numeric     NOT NULL CHECK (price > 0),
    commission       numeric     NOT NULL DEFAULT 0,
    ts               timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fills_ts ON fills (ts);

CREATE TABLE signals (
    strategy   text             NOT NULL,
    symbol     text             NOT NULL,
    bar_time   timestamptz      NOT NULL,
    direction  text             NOT NULL CHECK (direction IN ('long', 'flat', 'short')),
    price      double precision NOT NULL,
    PRIMARY KEY (strategy, symbol, bar_time)
);
CREATE INDEX signals_bar_time ON signals (bar_time);

CREATE TABLE risk_events (
    id        bigserial   PRIMARY KEY,
    ts        timestamptz NOT NULL,
    account   text        NOT NULL,
    kind      text        NOT NULL,
    reason    text        NOT NULL,
    strategy  text,
    symbol    text,
    details   jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX risk_events_ts ON risk_events (ts);

CREATE TABLE equity_snapshots (
    account  text        NOT NULL,
    ts       timestamptz NOT NULL,
    equity   numeric     NOT NULL,
    cash     numeric     NOT NULL,
    PRIMARY KEY (account, ts)
);

-- The audit trail is never edited in place.
CREATE FUNCTION qt_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;
CREATE TRIGGER order_events_append_only BEFORE UPDATE OR DELETE ON order_events
    FOR EACH ROW EXECUTE FUNCTION qt_append_only();
CREATE TRIGGER fills_append_only BEFORE UPDATE OR DELETE ON fills
    FOR EACH ROW EXECUTE FUNCTION qt_append_only();
CREATE TRIGGER risk_events_append_only BEFORE UPDATE OR DELETE ON risk_events
    FOR EACH ROW EXECUTE FUNCTION qt_append_only();
