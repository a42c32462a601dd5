"""The renderers: each presents one :class:`reporter.model.ReportModel` in one format.

``html.render_html``, ``pdf.render_pdf``, ``excel.render_xlsx`` and ``csv.render_csv``. They are
imported from their modules, so that writing a CSV does not load the PDF engine.
"""
