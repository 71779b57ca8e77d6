"""ConnectBooster's notification e-mails as triggers (issue 15).

A tenant forwards ConnectBooster's notifications to an IMAP mailbox (``MAIL_IMAP_*``); the
watcher reads it and acts on the ones it recognises by sender and subject:

- "Sync Failed" → the poller runs a cycle now (``Services.wake_poller``); the ``CB…``
  references and amounts in the body are kept as hints (logged, and in the e-mail's record);
- "Sync Disabled" and "Sync Not Running" → a message to ``ALERT_CHANNEL`` at once.

E-mails are triggers ("look now"), never the source of truth: the poll cycle still reads the
facts. The modules:

- ``recognise`` — pure: which kind an e-mail is (the patterns), and the hints in its body;
- ``handle`` — one e-mail handled exactly once: once-markers by UID (within UIDVALIDITY) and
  by Message-ID, the action, the record in Redis, the ``\\Seen`` mark;
- ``watch`` — the background loop: connect, look every ``MAIL_POLL_SECONDS``, reconnect with
  backoff when the server drops the connection, resume from the cursor kept in Redis.
"""
