"""callpath: self-hosted call tracking and marketing attribution."""

__version__ = "0.1.0.dev0"
