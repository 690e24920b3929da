"""What the importer needs from workers.properties: each worker's type, the
members of an lb, worker.list, a status worker's read_only, and the
`mount` attribute. The module reads the file itself (sticky_workers); this
is only enough to choose upstreams and locations. Read as jk_map.c reads
it: comments from the first '#', key=value trimmed, a repeated key keeps
the last value (list keys are joined), $(var) from earlier keys."""

import re

LIST_KEYS = ("list", "balance_workers", "balanced_workers", "mount")


class Workers:
    def __init__(self, path):
        self.path = path
        self.props = {}
        self.order = []
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as e:
            raise OSError("cannot read workers file %s: %s" % (path, e.strerror))
        if text.startswith("\ufeff"):
            text = text[1:]
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if "=" not in line:
                continue
            k, v = (s.strip() for s in line.split("=", 1))
            if not k or not v:
                continue
            v = re.sub(r"\$\(([^)]+)\)", lambda m: self.props.get(m.group(1), m.group(0)), v)
            if k in self.props and k.rsplit(".", 1)[-1] in LIST_KEYS:
                v = self.props[k] + "," + v
            self.props[k] = v
            if k not in self.order:
                self.order.append(k)

    def _attr(self, worker, name, seen=()):
        v = self.props.get("worker.%s.%s" % (worker, name))
        if v is not None:
            return v
        ref = self.props.get("worker.%s.reference" % worker)
        if ref and ref.startswith("worker.") and len(seen) < 20:
            return self._attr(ref[len("worker."):], name, seen + (worker,))
        return None

    @staticmethod
    def split_list(v):
        return [w for w in re.split(r"[\s,]+", v or "") if w]

    def worker_list(self):
        return self.split_list(self.props.get("worker.list"))

    def defined(self, worker):
        prefix = "worker.%s." % worker
        return any(k.startswith(prefix) for k in self.props)

    def type(self, worker):
        return (self._attr(worker, "type") or "ajp13").lower()

    def members(self, worker):
        return self.split_list(self._attr(worker, "balance_workers")
                               or self._attr(worker, "balanced_workers"))

    def read_only(self, worker):
        return (self._attr(worker, "read_only") or "").lower() in ("true", "1", "on", "yes")

    def mounts(self, worker):
        return self.split_list(self._attr(worker, "mount"))
