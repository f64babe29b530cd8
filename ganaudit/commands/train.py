"""`ganaudit train` (not yet written)."""


def register(sub):
    p = sub.add_parser("train", help="(not yet available)")
    p.set_defaults(func=lambda args: print("ganaudit train: not yet available") or 1)
