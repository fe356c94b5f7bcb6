"""Building blocks every layer uses: atomic file writes, findings, hashing, template rendering. Imports nothing
else of ftspec."""
