"""AWS clients and Secrets Manager."""
