"""Fixtures for tests and benchmarks that need no downloads: synthetic frame stores, tiny models, test clips."""
