"""Tests of the transports against real peers on 127.0.0.1."""
