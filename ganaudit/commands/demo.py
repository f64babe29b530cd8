"""`ganaudit demo` (not yet written)."""


def register(sub):
    p = sub.add_parser("demo", help="(not yet available)")
    p.set_defaults(func=lambda args: print("ganaudit demo: not yet available") or 1)
