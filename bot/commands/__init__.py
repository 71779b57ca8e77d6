"""``/failed-payments`` as data: ``parse`` turns its text into one typed command (pure),
``listing`` pages through the open failures with filters (inside Redis), ``stats`` counts them
over a window and feeds the ``/metrics`` gauges. The replies are drawn by
``bot.slack.blocks.lists``; the listener is ``handlers.commands``."""
