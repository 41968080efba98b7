"""The report's file names, importable without matplotlib (to remove stale charts, say)."""

REPORT_FILE = "report.html"
CHARTS_DIR = "charts"
#: Stems of the charts made per declared group of a channel's metrics start with this.
GROUP_CHART_PREFIX = "group-"
#: File stems of every fixed chart the report can make, so that a stale one can be removed without importing
#: matplotlib (``reachsim.report.charts.CHARTS`` makes them; a test holds the two together).
CHART_NAMES = ("money", "comparisons", "audience", "unique_reach", "engagements", "joined_by_source",
               "means_and_ratios", "hour_of_day", "reach_frequency")
