"""The ``qterm`` command line: wires adapters around the core."""
