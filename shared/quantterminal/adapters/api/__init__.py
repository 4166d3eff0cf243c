"""The HTTP API, served by the API Lambda and on a laptop."""
