"""microdc's site simulator: real Modbus TCP and BACnet/IP devices over a thermal model of a site.

Run it with ``python -m simulator`` (see simulator/__main__.py for the options). The parts:

- site.py: reads a site file (simulator/sites/demo.yaml is the default);
- model.py: ``SiteModel``, the physics and the ground-truth ledgers;
- water.py: temperature-dependent properties of water;
- faults.py: ``FaultBoard``, the injected faults the model and servers obey;
- modbus_server.py: one Modbus TCP gateway serving every Modbus device's profile;
- bacnet_device.py: the BACnet/IP controller;
- control.py: the HTTP control API (state, faults, time).

It imports nothing from custom_components: it reads the integration's profile files as data.
"""
