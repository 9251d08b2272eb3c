"""Devices of every protocol behind one interface (base.Device): poll, write, release, close."""
