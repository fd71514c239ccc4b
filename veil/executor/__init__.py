"""Running planned statements: on one source (Arrow or pass-through DataRows), federated
(fragments joined on a private local DuckDB), result streams on worker threads,
deadlines, the memory budget, cursors, COPY and the latency cache."""
