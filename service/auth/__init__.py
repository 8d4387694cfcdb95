"""Authentication and authorization: passwords, JWTs, permissions, the current-user dependency, auth routes."""
