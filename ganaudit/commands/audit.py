"""`ganaudit audit` (not yet written)."""


def register(sub):
    p = sub.add_parser("audit", help="(not yet available)")
    p.set_defaults(func=lambda args: print("ganaudit audit: not yet available") or 1)
