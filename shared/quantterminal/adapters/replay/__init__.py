"""Local stand-ins for the providers: the stream replay server and the historical bars server."""
