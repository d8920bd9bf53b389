"""Long work runs as jobs, not inside requests: PostgreSQL's queue is procrastinate (across
hosts), SQLite's an in-process runner over the `jobs` table. See docs/architecture.md."""
