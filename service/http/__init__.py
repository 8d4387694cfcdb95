"""HTTP layer: envelopes, the exception-to-envelope handler, health routes, auth guards."""
