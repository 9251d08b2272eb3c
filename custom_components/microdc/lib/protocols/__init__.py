"""Transports to the devices of a site: async clients, no Home Assistant imports."""
