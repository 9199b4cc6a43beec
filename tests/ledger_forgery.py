"""What a forger does to a ledger's rows after changing one: recompute every hash, so only a signature (or a copy
of the last hash kept elsewhere) can give the change away."""

from hil.evidence.seal import ledger


def rechain(rows: list[dict]) -> None:
    prev = ledger.GENESIS
    for row in rows:
        row["prev"] = prev
        row["hash"] = ledger.entry_hash(prev, {k: v for k, v in row.items() if k not in ("prev", "hash")})
        prev = row["hash"]
