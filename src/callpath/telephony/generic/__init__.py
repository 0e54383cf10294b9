"""The generic call webhook: the documented way any PBX or script reports calls."""
