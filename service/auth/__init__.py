"""Authentication and authorization: passwords, JWTs, permissions, the session dependency, auth routes."""
