"""Data policies: who sees which tables (subscription) and, later, masks and row filters."""
