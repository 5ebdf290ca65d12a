"""The transparency log (map to be completed)."""
