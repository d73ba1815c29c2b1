"""Pure positioning algorithms: RSSI filters, path loss, zone classifiers, dwell and visits.

No I/O here: numpy in, values and events out; time is always passed in.
"""

from positioning.devices import (
    DeviceCluster,
    DeviceCountConfig,
    DeviceCountEstimate,
    ProbeObservation,
    estimate_devices,
)
from positioning.dwell import DwellConfig, DwellState, ZoneObservation
from positioning.events import EventKind, PresenceEvent
from positioning.gridfilter import GridFilter, GridFilterTuning
from positioning.kalman import (
    BLE_PARAMS,
    DEFAULT_PARAMS,
    WIFI_PARAMS,
    KalmanParams,
    RssiKalman,
    RssiKalmanBank,
)
from positioning.pathloss import (
    Calibration,
    DistanceEstimate,
    PathLossFit,
    PathLossModel,
    fit_path_loss,
)
from positioning.tracking import DeviceTable, TableCounters, TrackingConfig
from positioning.visits import VisitClass, VisitConfig, VisitState, classify_visit
from positioning.zones import (
    FingerprintClassifier,
    Position,
    ProximityClassifier,
    StrongestSensorClassifier,
    TrilaterationClassifier,
    Zone,
    ZoneClassifier,
    ZoneEstimate,
)

__all__ = [
    "BLE_PARAMS",
    "DEFAULT_PARAMS",
    "WIFI_PARAMS",
    "Calibration",
    "DeviceCluster",
    "DeviceCountConfig",
    "DeviceCountEstimate",
    "DeviceTable",
    "DistanceEstimate",
    "DwellConfig",
    "DwellState",
    "EventKind",
    "FingerprintClassifier",
    "GridFilter",
    "GridFilterTuning",
    "KalmanParams",
    "PathLossFit",
    "PathLossModel",
    "Position",
    "PresenceEvent",
    "ProbeObservation",
    "ProximityClassifier",
    "RssiKalman",
    "RssiKalmanBank",
    "StrongestSensorClassifier",
    "TableCounters",
    "TrackingConfig",
    "TrilaterationClassifier",
    "VisitClass",
    "VisitConfig",
    "VisitState",
    "Zone",
    "ZoneClassifier",
    "ZoneEstimate",
    "ZoneObservation",
    "classify_visit",
    "estimate_devices",
    "fit_path_loss",
]
