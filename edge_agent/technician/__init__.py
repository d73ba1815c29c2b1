"""The technician's tools: live scan, calibration, zone fingerprints, walk tests, provisioning.

Pure parts live here (``scan``, ``calibrate``, ``walk``, ``zones``) and the
simulated sessions in ``calsim``; the typer/rich shell is
``edge_agent.technician_cli``. See docs/technician-guide.md.
"""
