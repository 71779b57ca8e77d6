"""QuickBooks webhooks (issue 17): the bot hears of a change in the books within seconds.

- ``payload`` — the signature check and both payloads (CloudEvents, legacy) read into changes;
- ``intake`` — what ``POST /qbo/webhooks`` does before it answers: verify, parse, keep the
  changes in a Redis stream (a crash loses none), nothing else;
- ``worker`` — reads the stream, each event once, fetches what changed (trusting its
  ``LastUpdatedTime``, not the order events came in) and hands it on;
- ``index`` — QuickBooks entity → the failures whose diagnosis depends on it;
- ``follow`` — open failures follow the books: re-diagnosed and redrawn (status only through
  ``bot.lifecycle``); a receipt the bot recreated, deleted by hand, gets a note;
- ``warn`` — "about to fail": ConnectBooster payments still pending whose invoices changed so
  that the next sync would fail are warned about before it runs;
- ``catchup`` — a ChangeDataCapture pass from the last processed time after downtime, and the
  daily reconciliation;
- ``metrics`` — the counters.
"""
