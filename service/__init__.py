"""Flow CRM service: the HTTP backend of the Flow CRM web app."""

__version__ = "1.0.0"
