"""Model resolution and the built-in tiny model."""
