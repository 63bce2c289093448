#!/usr/bin/env python3
"""Read forms out of saved HTML the way a browser would, for capture.sh.

  formtool.py hidden FILE NAME
      the value of the first <input name="NAME"> in FILE
  formtool.py form FILE ACTION [--match NAME=VALUE]... [--has NAME]... [--set NAME=VALUE]...
      the application/x-www-form-urlencoded body a browser sends when the
      first form whose action contains ACTION (and whose fields include
      every --match pair and a field for every --has NAME) is submitted unchanged, except for the --set
      fields (which replace, or are added) and the --unset NAME= fields (left out, as an unticked box)
  formtool.py answer FILE [--set NAME=VALUE]...
      a resident's complete answer to the survey form (#survey-form):
      its hidden fields plus the middle option of every choice question
      that is not conditional, "local" for resident_type, and a sentence
      for text questions
"""
import sys
from html.parser import HTMLParser
from urllib.parse import urlencode


class Forms(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []  # each: {"attrs": {}, "fields": [(name, value, kind)]}
        self.current = None
        self.textarea = None
        self.select = None
        self.conditional = set()  # question ids shown only under a condition

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-show-if-question" in a and "data-question" in a:
            self.conditional.add(a["data-question"])
        if tag == "form":
            self.current = {"attrs": a, "fields": []}
            self.forms.append(self.current)
            return
        if self.current is None:
            return
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                self.current["fields"].append((name, a.get("value", "on"), kind, "checked" in a))
            else:
                self.current["fields"].append((name, a.get("value", ""), kind, True))
        elif tag == "textarea" and name and "disabled" not in a:
            self.textarea = [name, ""]
        elif tag == "select" and name and "disabled" not in a:
            self.select = {"name": name, "options": [], "selected": None}
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            self.select["options"].append(value)
            if "selected" in a:
                self.select["selected"] = value

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self.textarea is not None:
            value = self.textarea[1]
            if value.startswith("\n"):  # HTML drops one leading newline
                value = value[1:]
            self.current["fields"].append((self.textarea[0], value, "textarea", True))
            self.textarea = None
        elif tag == "select" and self.select is not None:
            s = self.select
            value = s["selected"] if s["selected"] is not None else (s["options"][0] if s["options"] else "")
            self.current["fields"].append((s["name"], value, "select", True))
            self.select = None
        elif tag == "form":
            self.current = None


def parse(path):
    p = Forms()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    return p


def pairs_of(args, flag):
    out = []
    i = 0
    while i < len(args):
        if args[i] == flag:
            name, _, value = args[i + 1].partition("=")
            out.append((name, value))
            i += 2
        else:
            i += 1
    return out


def successful(fields):
    """The name/value pairs a browser submits (checked boxes only)."""
    return [(n, v) for (n, v, kind, on) in fields if on]


def apply_sets(pairs, sets):
    for name, value in sets:
        if any(n == name for n, _ in pairs):
            pairs = [(n, value if n == name else v) for n, v in pairs]
        else:
            pairs.append((name, value))
    return pairs


def main(argv):
    cmd, path = argv[0], argv[1]
    p = parse(path)
    if cmd == "hidden":
        for form in p.forms:
            for n, v, _, _ in form["fields"]:
                if n == argv[2]:
                    print(v)
                    return 0
        sys.exit(f"{path}: no input named {argv[2]}")
    if cmd == "form":
        action, rest = argv[2], argv[3:]
        matches, sets = pairs_of(rest, "--match"), pairs_of(rest, "--set")
        has = [n for n, _ in pairs_of(rest, "--has")]
        for form in p.forms:
            if action not in form["attrs"].get("action", ""):
                continue
            pairs = successful(form["fields"])
            names = {n for n, _, _, _ in form["fields"]}
            if all(m in pairs for m in matches) and all(n in names for n in has):
                unset = {n for n, _ in pairs_of(rest, "--unset")}
                pairs = [(n, v) for n, v in pairs if n not in unset]  # an unticked box
                sys.stdout.write(urlencode(apply_sets(pairs, sets)))
                return 0
        sys.exit(f"{path}: no form with action {action!r} and fields {matches}")
    if cmd == "answer":
        sets = pairs_of(argv[2:], "--set")
        form = next((f for f in p.forms if f["attrs"].get("id") == "survey-form"), None)
        if form is None:
            sys.exit(f"{path}: no #survey-form")
        pairs, groups = [], {}
        for n, v, kind, _ in form["fields"]:
            if kind == "hidden":
                pairs.append((n, v))
            elif n in p.conditional:
                continue
            elif kind in ("radio", "checkbox"):
                groups.setdefault(n, []).append(v)
            elif kind == "textarea":
                pairs.append((n, "More parks and benches along the sea front, please."))
        for n, values in groups.items():
            pick = "local" if n == "resident_type" and "local" in values else values[len(values) // 2]
            pairs.append((n, pick))
        sys.stdout.write(urlencode(apply_sets(pairs, sets)))
        return 0
    sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
