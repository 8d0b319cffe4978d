"""Functions peeled off the monolith, one module per bounded context."""
