"""The monthly rules, one module each, as functions and small classes over explicit state."""
