"""`ganaudit score` (not yet written)."""


def register(sub):
    p = sub.add_parser("score", help="(not yet available)")
    p.set_defaults(func=lambda args: print("ganaudit score: not yet available") or 1)
