"""What the CSV files people download must not do: run as a spreadsheet formula."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A text cell a spreadsheet reads as text: one starting like a formula is quoted."""
    return f"'{value}" if value[:1] in FORMULA_STARTS else value
