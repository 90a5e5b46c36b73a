"""Stage 4, evaluate: the runner (concurrency, retries, limits), answer parsing, scoring, cost,
records and the append-only run store, and run summaries."""
