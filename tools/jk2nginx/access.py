"""Apache access rules (mod_authz_core's Require, mod_access_compat's
Order/Allow/Deny) as nginx allow/deny lines.

A section's rules are a list of nginx lines, or None when the section has
none. What cannot be carried (a host name, a user, a negation) adds a note
and allows nothing, so the output denies rather than opens."""

import ipaddress


def ip_spec(text):
    """Apache's ip forms: a full or partial address, addr/bits, addr/mask."""
    if text == "all":
        return "all"
    if "/" in text:
        addr, mask = text.split("/", 1)
        if "." in mask:
            bits = ipaddress.IPv4Network("0.0.0.0/" + mask).prefixlen
            return "%s/%d" % (addr, bits)
        return text
    if ":" not in text:
        parts = [p for p in text.split(".") if p != ""]
        if 0 < len(parts) < 4:
            return "%s/%d" % (".".join(parts + ["0"] * (4 - len(parts))), 8 * len(parts))
    return text


def from_section(children, notes):
    """Access lines for a <Location>/<Directory> body, or None."""
    requires = []
    order, allows, denies = None, [], []
    seen = False
    for d in children or []:
        k = d.key
        if k == "require":
            seen = True
            requires.append(d)
        elif k in ("requireany",):
            seen = True
            requires.extend(c for c in d.children if c.key == "require")
        elif k in ("requireall", "requirenone"):
            seen = True
            notes.append((d, "<%s> is not carried over: nginx allow/deny is one list "
                             "(this section denies all)" % d.name))
        elif k == "order":
            seen = True
            order = "".join(d.args).lower().replace(" ", "")
        elif k == "allow" and d.args[:1] == ["from"]:
            seen = True
            allows.extend(d.args[1:])
        elif k == "deny" and d.args[:1] == ["from"]:
            seen = True
            denies.extend(d.args[1:])
    if not seen:
        return None
    lines = []
    if requires:
        granted = False
        for d in requires:
            args = d.args
            kind = args[0].lower() if args else ""
            if kind == "all" and args[1:2] == ["granted"]:
                granted = True
            elif kind == "all" and args[1:2] == ["denied"]:
                pass
            elif kind == "ip":
                lines.extend("allow %s;" % ip_spec(a) for a in args[1:])
            elif kind == "local":
                lines.extend(["allow 127.0.0.0/8;", "allow ::1;"])
            else:
                notes.append((d, "`Require %s` is not carried over: nginx's allow/deny "
                                 "knows addresses only (nothing allowed for it)"
                                 % " ".join(args)))
        return ["allow all;"] if granted else lines + ["deny all;"]
    # mod_access_compat: Order deny,allow = allowed unless denied and not
    # allowed; Order allow,deny = denied unless allowed and not denied.
    def spec(xs, verb):
        out = []
        for x in xs:
            s = ip_spec(x)
            if not any(c.isdigit() for c in s) and s != "all":
                return None
            out.append("%s %s;" % (verb, s))
        return out
    a, dn = spec(allows, "allow"), spec(denies, "deny")
    if a is None or dn is None:
        notes.append((children[0], "Allow/Deny from a host name is not carried over "
                                   "(this section denies all)"))
        return ["deny all;"]
    if order == "deny,allow":
        return a + dn + ["allow all;"]
    return dn + a + ["deny all;"]
