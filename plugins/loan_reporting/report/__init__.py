"""The report builder: one day's loan rows -> one Bokbasen payload per agency."""
