"""Wiring: each kind of entrypoint's kernel built with its handlers (the composition roots)."""
