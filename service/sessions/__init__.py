"""The session endpoints (/api/auth: login, logout, refresh, me, register). They sit above both `auth` (tokens,
permissions, the current user) and `users` (the user accounts), so neither of those imports the other's way."""
