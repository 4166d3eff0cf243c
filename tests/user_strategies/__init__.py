"""A user's strategies as they live outside the package: files named by path in the tests."""
