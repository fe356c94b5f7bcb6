"""ftspec: declarative config-as-code for LLM fine-tuning."""
__version__ = "0.1.0"
