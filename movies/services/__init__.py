"""Workflows of the movies app (keyword-only, typed functions; views and commands call these)."""
