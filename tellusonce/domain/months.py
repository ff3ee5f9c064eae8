"""Month names as people write them in a date, in English and in Welsh: both channels read them
(the date boxes on the web, the dates in an emailed change)."""

from __future__ import annotations

# Each month in English and in Welsh, with the Welsh short forms and the soft mutation that
# follows "o" ("1af o Fedi", "o Dachwedd").
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan", "ionawr", "ion"),
            ("february", "feb", "chwefror", "chwef"),
            ("march", "mar", "mawrth", "maw", "fawrth"),
            ("april", "apr", "ebrill", "ebr"),
            ("may", "mai", "fai"),
            ("june", "jun", "mehefin", "meh", "fehefin"),
            ("july", "jul", "gorffennaf", "gorff", "orffennaf"),
            ("august", "aug", "awst"),
            ("september", "sep", "sept", "medi", "fedi"),
            ("october", "oct", "hydref", "hyd"),
            ("november", "nov", "tachwedd", "tach", "dachwedd"),
            ("december", "dec", "rhagfyr", "rhag", "ragfyr"),
        ),
        start=1,
    )
    for name in names
}
