"""`ganaudit study` (not yet written)."""


def register(sub):
    p = sub.add_parser("study", help="(not yet available)")
    p.set_defaults(func=lambda args: print("ganaudit study: not yet available") or 1)
