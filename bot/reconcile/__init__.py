"""Failed transfers found from the payment gateway and QuickBooks, without ConnectBooster.

Money the gateway took that has no ConnectBooster receipt in QuickBooks after the sync
window *is* a payment failing to transfer. Each poll reads the gateway's transactions since
a cursor, looks in QuickBooks in bulk for each settled sale's receipt, and hands what it
flags to the same diagnosis, cards and remedies as the contract's failures.

By concern:

- ``run`` — one reconciliation: gateway cursor and watched sales in Redis, bulk reads, verdicts;
- ``fetch`` — the QuickBooks side, read in two rounds of batch requests;
- ``decide`` — every transaction's verdict (pure); ``verdicts`` — what they mean;
- ``customers`` — the payer matched to a QBO customer (company, name, e-mail), never guessed;
- ``receipts`` — the ``CB…`` receipt of each sale, one receipt per sale;
- ``allocate`` — which invoices a failed transfer paid (pattern, likely subset, or ask);
- ``payments`` — a flagged sale as the payment the diagnosis and the cards handle;
- ``pending`` — the watched sales in their grace period with no receipt yet, as the pending
  payments "about to fail" watches;
- ``poll`` — the poll cycle's gateway step (post, redraw, resolve).
"""
