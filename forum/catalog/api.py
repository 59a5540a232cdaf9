"""JSON API (being written)."""
