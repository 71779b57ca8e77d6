"""What the process runs with: its ``settings`` (read from the environment once), the
``services`` every domain function takes (the store, the QuickBooks, ConnectBooster and Slack
clients on one aiohttp session each, the metrics, the clock), ``logs`` (secrets masked) and
``metrics`` (Prometheus)."""
