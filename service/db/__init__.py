"""Database plumbing: pool lifecycle, per-request connections, SQLSTATE mapping, migrations, embedded server."""
