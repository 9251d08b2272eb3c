"""Tests of the pure domain modules (no Home Assistant instance, no network)."""
