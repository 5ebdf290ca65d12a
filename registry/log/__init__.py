"""The transparency log: every write the registry makes, in an append-only public record.

What an entry is
    One event (a maker admitted, a piece registered, an assay attested, a certificate
    issued or revoked, a key rotated, ...) as the RFC 8785 bytes of a JSON object: its
    action, its time, its actor, its subjects and its data. It holds only what is public,
    plus keyed commitments of what is not (HMAC-SHA256 of e-mail addresses, state UINs and
    notes with the commitment key in the keys directory; entries written before that key
    hold plain SHA-256); a certificate's bytes are named by their SHA-256. The
    entry's bytes are the leaf of the Merkle tree (RFC 9162 §2.1.1); the `event` row's
    other columns repeat what it says, for the inspectors' filters.

Where it is appended
    `ledger.append`, called by every service that changes state, in the transaction of
    the write: the entry, its leaf and the tree's new nodes are stored with the write,
    or none of them. Nothing else writes the log.

How the tree is stored (tree.py)
    Only the perfect nodes (those that never change once their last leaf is in), as
    (level, index), and the head row holding the log's size. An append locks the head,
    takes the next index and stores the nodes it completes; a root or a proof is folded
    from the O(log n) perfect nodes it needs (merkle.py). `*_committed` reads run
    outside any transaction, for the public reads, and see committed nodes only.

When a checkpoint is signed (checkpoints.py)
    Before a transaction that appended commits, once LOG_CHECKPOINT_ENTRIES entries
    (default 1: every write) lie outside the newest checkpoint; on demand (`registry log
    checkpoint`, POST /api/v1/log/checkpoint); or on a timer (`--every`). The signer
    refuses a tree that does not extend the last one it signed, which it keeps in a
    file beside the keys, outside the database, and signs only over entries that carry
    the registry's MAC (proofs.py), at a time never earlier than the last it signed.

Proofs of the registry's own writes (proofs.py)
    Every entry carries a MAC of its index and bytes, and every certificate a seal of
    its state (status, revocation, successor, newest entry about it), under keys derived
    from the keys directory's commitment key: a row written by hand has neither, so it
    is never signed, and a scan that reads it says Not valid. `registry init` gives rows
    stored before these proofs theirs, as far as a signed checkpoint vouches (adopt.py).

The public reads (public.py)
    Entries a page at a time, inclusion and consistency proofs, and checkpoints, as the
    API serves them, each checked against the log's size.

The inspectors' audit (audit.py)
    The events found by maker, piece, certificate, type, actor and time, as pages or
    one streamed CSV.

How each check works
    check/ (`registry log verify`) trusts only the entries' bytes and the checkpoints'
    signatures: check/tree.py recomputes the tree from the entries and compares every
    stored node; check/records.py holds every row to what the entries say of it;
    check/checkpoints.py checks each checkpoint's signature, its root and its
    consistency with the one before. The outcome is kept for the inspectors' log page
    (`check.record`).
    remote.py (`registry log verify --url`) audits a running registry through its
    public API alone: signatures by its JWKS or pinned keys, consistency from the last
    checkpoint seen, and every entry since read and the tree recomputed to the signed
    root (resuming from the compact range it saved).

Modules
    ledger       the one append: an event's entry, in the write's transaction
    events       what some entries say of their subject, for the services and check alike
    merkle       RFC 9162 hashes and proofs, pure functions, no database
    tree         the stored tree: head, perfect nodes, roots and proofs
    checkpoints  signing, storing and finding checkpoints (C2SP signed notes)
    proofs       the MACs of entries and seals of certificate states that prove a row ours
    adopt        proofs given at init to rows stored before there were any
    public       what the log's public API serves
    audit        the inspectors' search of the events, and its CSV export
    check        the local check: outcome, discrepancy kinds, orchestration
    check.tree   the tree recomputed from the entries against the stored one
    check.after_sale  shops, sales and owners against the entries, replayed per piece
    check.records  the records against what the entries say
    check.checkpoints  signatures, roots and consistency of the stored checkpoints
    remote       the audit of a running registry through its public API
"""
