"""The command-line commands beside ``app.py``'s command line (``python app.py <command>``).

- ``check`` (:mod:`cli.check`) — reach settings, Redis, Slack, QuickBooks and ConnectBooster
  and say, one line each, whether each answered and, if not, why; and who can read the
  amounts posted in the bot's channels (:mod:`cli.audience`);
- ``qbo-connect`` (:mod:`cli.connect`) — the first connection to QuickBooks (OAuth consent),
  keeping its tokens in Redis where the bot reads them (a local redirect server, or the
  redirected address pasted, ``--paste``).

``app.py`` parses the command line and calls these; they use the domain (``bot``) and the
clients (``qb``), and nothing in ``bot/`` imports them: they are a way in, not a part.
"""
