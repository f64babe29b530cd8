"""`ganaudit report` (not yet written)."""


def register(sub):
    p = sub.add_parser("report", help="(not yet available)")
    p.set_defaults(func=lambda args: print("ganaudit report: not yet available") or 1)
