"""``check``'s line for the e-mail triggers: the mailbox answers, the login is accepted and
the folder exists, or why not — never the password."""

from __future__ import annotations

from bot.runtime.settings import Settings
from mail import Mailbox, MailboxConfig, MailError


async def mail_check_line(settings: Settings) -> tuple[str, bool, str]:
    """One ``check`` line: off (``MAIL_IMAP_HOST`` unset), or the mailbox's login and folder
    (how many messages, how many unread), or what failed."""
    name = "E-mail triggers"
    if not settings.mail_enabled:
        return (name, True, "off (MAIL_IMAP_HOST is not set)")
    from bot.mail.watch import mailbox_config

    config: MailboxConfig = mailbox_config(settings)
    mailbox = Mailbox(config)
    try:
        uidvalidity = await mailbox.open()
        total = len(await mailbox.uids_after(0))
        unread = len(await mailbox.uids_after(0, unseen=True))
    except MailError as exc:
        return (name, False, str(exc))
    finally:
        await mailbox.close()
    return (
        name,
        True,
        f"logged in as {config.user} at {config.host}:{config.port} "
        f"({'TLS' if config.tls else 'plain IMAP'}); folder {config.folder!r} has "
        f"{total} messages, {unread} unread (UIDVALIDITY {uidvalidity})",
    )
