"""The spec layer: YAML with source locations (``source``), the pydantic schema (``schema``) and loading a spec
file into a validated, located ``LoadedSpec`` (``load``). Below everything but ``ftspec.core``."""
