"""Run reports: the self-contained HTML view."""

from ftspec.report.html import render_report_html

__all__ = ["render_report_html"]
