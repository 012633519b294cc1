"""Typed answers of the JSON endpoints (pydantic models), one module per subject, for OpenAPI."""
