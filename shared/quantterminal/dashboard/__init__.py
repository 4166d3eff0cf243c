"""The terminal-style dashboard: static files (``static/``) built from ``shared/dashboard``'s sources
with npm, served by the local API server and, in AWS, from S3."""
