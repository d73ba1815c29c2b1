"""The store simulator: stands in for the radios with seeded, reproducible shoppers and phones.

See docs/simulator.md for the floor plan, population, radio model and output format.
"""

from hardware.simulator.engine import (
    DEFAULT_START_TS_S,
    SimBleAdvert,
    SimConfig,
    SimProbe,
    SimRecord,
    SimulatedStore,
)
from hardware.simulator.floorplan import FloorPlan, FloorPlanError, Sensor, Zone, default_store
from hardware.simulator.output import RunSummary, ble_json_line, probe_packet, write_run
from hardware.simulator.population import PersonKind, PopulationConfig
from hardware.simulator.radio import RadioModel

__all__ = [
    "DEFAULT_START_TS_S",
    "FloorPlan",
    "FloorPlanError",
    "PersonKind",
    "PopulationConfig",
    "RadioModel",
    "RunSummary",
    "Sensor",
    "SimBleAdvert",
    "SimConfig",
    "SimProbe",
    "SimRecord",
    "SimulatedStore",
    "Zone",
    "ble_json_line",
    "default_store",
    "probe_packet",
    "write_run",
]
