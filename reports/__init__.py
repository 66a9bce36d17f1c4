"""Render claim records (JSON) as Markdown, HTML and PNG plots."""
