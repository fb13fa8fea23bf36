"""Statistics for the report: means with intervals, break-down points, code agreement (Study B).

Pure functions over the tidy score table and code arrays; the report rules only load and save.
"""

from __future__ import annotations

from nacbench.analysis.breakdown import breakdown_pflip, crossing_points
from nacbench.analysis.codes import agreement_to_json, align_frames, code_agreement, mean_cosine
from nacbench.analysis.summary import mean_ci

__all__ = [
    "agreement_to_json",
    "align_frames",
    "breakdown_pflip",
    "code_agreement",
    "crossing_points",
    "mean_ci",
    "mean_cosine",
]
