"""The latency cache and its backends (memory, Redis)."""
