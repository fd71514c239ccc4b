"""Veil: a SQL proxy query engine that speaks PostgreSQL and enforces data policies."""

__version__ = "0.1.0"
