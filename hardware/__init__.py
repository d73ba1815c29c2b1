"""placeholder"""

from hardware.capture import CaptureFormatError, DecodeStats, iter_capture, iter_probe_requests
from hardware.privacy import DeviceKeyer, PrivacyConfigError
from hardware.sightings import BeaconFrame, sighting_from_ble, sighting_from_probe
from hardware.wifi import (
    ProbeRequest,
    WifiRejection,
    WifiRejectReason,
    decode_frame,
    decode_probe_request,
)

__all__ = [
    "BeaconFrame",
    "CaptureFormatError",
    "DecodeStats",
    "DeviceKeyer",
    "PrivacyConfigError",
    "ProbeRequest",
    "WifiRejectReason",
    "WifiRejection",
    "decode_frame",
    "decode_probe_request",
    "iter_capture",
    "iter_probe_requests",
    "sighting_from_ble",
    "sighting_from_probe",
]
