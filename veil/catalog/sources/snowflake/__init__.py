"""The snowflake source type: a plugin of :mod:`veil.catalog.sources.plugins`."""
