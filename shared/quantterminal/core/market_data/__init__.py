"""Market data: bars from trades, clean bar streams, calendar and sessions, validation."""
