"""microdc's domain and protocols, free of Home Assistant (tests/lib/test_purity.py guards it)."""
