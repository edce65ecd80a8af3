"""Plan steps by area: each a frozen description of one action and the line --dry-run prints for it."""
