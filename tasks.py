"""Entry point for `invoke`: every task lives in the polyarch package."""

from polyarch.cli.tasks import namespace

ns = namespace()
