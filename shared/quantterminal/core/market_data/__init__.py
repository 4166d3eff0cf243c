"""Market data: bars from trades, the feed pipeline and its health, clean bar streams, the calendar."""
