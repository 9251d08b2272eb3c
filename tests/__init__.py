"""Tests for microdc."""
