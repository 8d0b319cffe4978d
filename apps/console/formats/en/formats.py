"""Dates and times as the operator console writes them (``FORMAT_MODULE_PATH``): to the
second, year first, so a step that takes a second shows it and a column stays narrow."""

DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
