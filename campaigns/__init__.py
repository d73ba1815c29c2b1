"""Campaigns: exposures, identity links, attribution models and lift statistics.

Pure: no database, broker or web imports. The SQL that runs these definitions lives in
``gateway.reports`` and ``gateway.campaign_store``.
"""

from campaigns.attribution import CreditModel, Touch, credit_touches, credit_weights
from campaigns.identity import IdentifierKind, normalize_email, normalize_phone, person_key
from campaigns.imports import (
    FileFormat,
    ParseResult,
    RowError,
    exposure_from_mapping,
    parse_exposures,
    parse_links,
)
from campaigns.markov import MarkovResult, PathCount, markov_attribution
from campaigns.model import (
    CLOCK_SKEW_TOLERANCE_S,
    AttributionWindows,
    Campaign,
    CampaignError,
    ControlDesign,
    Exposure,
    ExposureKind,
    Group,
    IdentityLink,
    LinkSource,
)
from campaigns.reports import DEFAULT_K, Cell, ParameterSet, Report, render_csv, render_json
from campaigns.stats import (
    ArmMoments,
    diff_in_diff,
    mean_lift,
    minimum_detectable_effect,
    power_two_proportions,
    rate_lift,
)

__all__ = [
    "CLOCK_SKEW_TOLERANCE_S",
    "DEFAULT_K",
    "ArmMoments",
    "AttributionWindows",
    "Campaign",
    "CampaignError",
    "Cell",
    "ControlDesign",
    "CreditModel",
    "Exposure",
    "ExposureKind",
    "FileFormat",
    "Group",
    "IdentifierKind",
    "IdentityLink",
    "LinkSource",
    "MarkovResult",
    "ParameterSet",
    "ParseResult",
    "PathCount",
    "Report",
    "RowError",
    "Touch",
    "credit_touches",
    "credit_weights",
    "diff_in_diff",
    "exposure_from_mapping",
    "markov_attribution",
    "mean_lift",
    "minimum_detectable_effect",
    "normalize_email",
    "normalize_phone",
    "parse_exposures",
    "parse_links",
    "person_key",
    "power_two_proportions",
    "rate_lift",
    "render_csv",
    "render_json",
]
