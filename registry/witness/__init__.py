"""The witness (c2sp.org/tlog-witness): the program a party the registry does not
control, the assay inspectorate, runs on its own machine. It remembers the newest
checkpoint it cosigned of each log it was given, and cosigns a new one only if a
consistency proof shows that it extends that one.

It needs nothing of the registry but the log's verifier key and the requests it sends:
no database, no configuration, no service. It imports only the keys (keys/) and the
log's Merkle proofs (registry/log/merkle.py), which the import contracts hold to.

- `state`: the newest cosigned checkpoint of each log, checked and replaced atomically
  and written durably before any answer;
- `protocol`: add-checkpoint, every check the spec asks for, in its order;
- `server`: the HTTP interface (WSGI) and `registry witness serve`.
"""
