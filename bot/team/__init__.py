"""The team's workflow around failures: who owns one, snoozes, reminders.

Owner and snooze are not statuses (``bot.lifecycle`` alone changes those): every change to
them goes through this package, which writes ``bot.store.team``'s keys, notes it in the
audit stream and redraws the card:

- ``ownership`` — take, reassign (to a finance user only), release;
- ``snooze`` — snooze until a date or ConnectBooster's next sync, unsnooze, and the poller's
  wake-up of snoozes that are due (state in Redis: a restart loses none);
- ``outcome`` — what each of them answers (``TeamResult``) and the shared checks;
- ``reminders`` — the once-a-working-day message of failures waiting too long.
"""
