"""Entry point for `invoke`: every task lives in the polyarch package."""

from polyarch.tasks import namespace

ns = namespace()
