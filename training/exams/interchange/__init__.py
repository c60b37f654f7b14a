"""Questions in and out of other exam tools: Moodle XML, GIFT and the Chinese exam-tool Excel template.

``records`` is the neutral form every parser produces and every writer consumes; ``moodle``,
``gift`` and ``excel`` are pure (bytes in, records out and back); ``service`` stores records as
knowledge items and scenario questions and reads them back for export.
"""
