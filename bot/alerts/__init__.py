"""The channel-level alarms: the failure rate over a window (with hysteresis: one alert, then
quiet until it recovers) and "ConnectBooster's sync is not running". ``rules`` holds the pure
inputs and the rule for what to check; ``watch`` reads ConnectBooster's numbers at the end of
each poll cycle and posts each alert once, however many bots run."""
