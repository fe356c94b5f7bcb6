"""Dataset reading and record formats (shared by lint and training)."""
