"""AWS Lambda entry points: each handler wires adapters around the core in a few lines."""
