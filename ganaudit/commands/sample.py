"""`ganaudit sample` (not yet written)."""


def register(sub):
    p = sub.add_parser("sample", help="(not yet available)")
    p.set_defaults(func=lambda args: print("ganaudit sample: not yet available") or 1)
