"""Market data in: the providers' websocket streams and historical bars, and CSV files."""
