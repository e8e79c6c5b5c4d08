"""Importers: OneRoster roster bundles and the records CSVs OneRoster does not carry.

Both follow the same rules: a run is all-or-nothing, every problem is reported with
file, line and column, and a run is stored as an ``ImportRun``.
"""
