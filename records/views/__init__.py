"""Web pages of the records app: the district admin's imports and the family portal."""
