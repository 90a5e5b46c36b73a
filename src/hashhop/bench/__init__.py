"""Stage 6, bench: suites, sweep files, jobs, and the executors that run them (local, Ray)."""
