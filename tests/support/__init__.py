"""Helpers shared by the test suite (database URLs, vector loading, free ports)."""
