"""Pool planner: how many pool numbers a site needs for a target accuracy (docs/planner.md)."""
