"""`ganaudit data` (not yet written)."""


def register(sub):
    p = sub.add_parser("data", help="(not yet available)")
    p.set_defaults(func=lambda args: print("ganaudit data: not yet available") or 1)
