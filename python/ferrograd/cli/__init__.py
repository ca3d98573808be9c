"""The command-line tools behind ``python -m ferrograd``."""
