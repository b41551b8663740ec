"""Shared runtime for every samenloop service: one implementation of each cross-cutting concern."""
