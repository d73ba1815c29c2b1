"""Pure positioning algorithms: RSSI filters, path loss, zone classifiers, dwell and visits.

No I/O here: numpy in, values and events out; time is always passed in.
"""

from positioning.events import EventKind, PresenceEvent
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
    "DistanceEstimate",
    "EventKind",
    "FingerprintClassifier",
    "KalmanParams",
    "PathLossFit",
    "PathLossModel",
    "Position",
    "PresenceEvent",
    "ProximityClassifier",
    "RssiKalman",
    "RssiKalmanBank",
    "StrongestSensorClassifier",
    "TrilaterationClassifier",
    "Zone",
    "ZoneClassifier",
    "ZoneEstimate",
    "fit_path_loss",
]
