"""polyarch sample frontend: a stdlib web page showing which arch each service runs on.

What it shares with the server lives in ``samplekit`` (the ``common`` build context).
"""

DEFAULT_TITLE = "polyarch sample stack"
