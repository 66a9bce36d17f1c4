"""Render claim records (JSON) as Markdown, HTML and PNG plots.

Reads records from disk only and imports no other project package (STYLE.md, "Layering"):
``render_report(load_records_json("records.json"), out_dir)`` rebuilds a report folder.
"""

from reports.render import fmt, load_records_json, render_report

__all__ = ["fmt", "load_records_json", "render_report"]
