"""The ledger: SQLite and PostgreSQL, their migrations, and the feed's bar writer."""
