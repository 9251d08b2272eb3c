"""Custom integrations (a package so that tests can import microdc)."""
