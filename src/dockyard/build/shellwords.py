"""docker's word rules: variable substitution and word splitting.

Two jobs, both after docker's ``shell`` lexer:

* :func:`expand` / :func:`expand_words` give a word's value with ``$v``, ``${v}``,
  ``${v:-d}``, ``${v-d}``, ``${v:+a}``, ``${v+a}``, ``${v:?msg}``, ``${v?msg}`` applied,
  quotes removed and escapes resolved. Single quotes are literal; inside double
  quotes the escape character only escapes ``"``, ``$`` and itself. Unquoted
  expansions are word-split by :func:`expand_words`, quoted ones never.
* :func:`split_words_raw` splits a line on blanks but keeps quotes and escapes as
  written (docker's ``parseWords``, used for ``ENV``/``LABEL`` ``k=v`` pairs).

Unset variables expand to the empty string like in docker; the names that were
used unset (without a default) are reported in ``missing`` so that ``FROM`` can
refuse a build arg nobody gave.
"""

from __future__ import annotations

from collections.abc import Mapping

from dockyard.errors import InvalidArgument

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class _Words:
    """Accumulates words; ``raw`` text never splits, ``text`` splits on blanks."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.cur: list[str] = []
        self.in_word = False

    def raw(self, s: str) -> None:
        self.cur.append(s)
        self.in_word = True

    def text(self, s: str) -> None:
        for ch in s:
            if ch in " \t\r\n":
                self.end()
            else:
                self.raw(ch)

    def end(self) -> None:
        if self.in_word:
            self.words.append("".join(self.cur))
        self.cur = []
        self.in_word = False


class _Lexer:
    def __init__(self, word: str, env: Mapping[str, str], escape: str,
                 missing: set[str] | None, raw_quotes: bool = False) -> None:
        self.raw_quotes = raw_quotes
        self.s = word
        self.i = 0
        self.env = env
        self.esc = escape
        self.missing = missing

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        self.i += 1
        return ch

    def run(self, stop: str = "") -> tuple[str, _Words]:
        """Process until ``stop`` (consumed) or the end; (joined value, words)."""
        out: list[str] = []
        words = _Words()
        while self.i < len(self.s):
            ch = self.peek()
            if stop and ch == stop:
                self.i += 1
                words.end()
                return "".join(out), words
            if ch in "'\"" and self.raw_quotes:
                self.i += 1
                out.append(ch)
                words.raw(ch)
            elif ch == "'":
                self.i += 1
                val = self.single()
                out.append(val)
                words.raw(val)
            elif ch == '"':
                self.i += 1
                val = self.double()
                out.append(val)
                words.raw(val)
            elif ch == "$":
                self.i += 1
                val = self.dollar()
                out.append(val)
                words.text(val)
            elif ch == self.esc:
                self.i += 1
                if self.i >= len(self.s):
                    break
                nxt = self.next()
                out.append(nxt)
                words.raw(nxt)
            else:
                self.i += 1
                out.append(ch)
                if ch in " \t\r\n":
                    words.end()
                else:
                    words.raw(ch)
        if stop:
            raise InvalidArgument(f"unexpected end of statement while looking for "
                                  f"matching {stop!s}")
        words.end()
        return "".join(out), words

    def single(self) -> str:
        end = self.s.find("'", self.i)
        if end < 0:
            raise InvalidArgument("unexpected end of statement while looking for "
                                  "matching single-quote")
        val = self.s[self.i:end]
        self.i = end + 1
        return val

    def double(self) -> str:
        out: list[str] = []
        while True:
            if self.i >= len(self.s):
                raise InvalidArgument("unexpected end of statement while looking for "
                                      "matching double-quote")
            ch = self.next()
            if ch == '"':
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
            elif ch == self.esc:
                nxt = self.peek()
                if nxt in ('"', "$", self.esc) and nxt:
                    self.i += 1
                    out.append(nxt)
                else:
                    out.append(ch)
            else:
                out.append(ch)

    def name(self) -> str:
        start = self.i
        while self.peek() and self.peek() in _NAME_CHARS:
            self.i += 1
        return self.s[start:self.i]

    def lookup(self, name: str) -> str | None:
        return self.env.get(name)

    def dollar(self) -> str:
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            val = self.lookup(name)
            if val is None:
                self._missing(name)
                return ""
            return val
        self.i += 1
        name = self.name()
        if not name:
            raise InvalidArgument("bad substitution: missing or invalid variable name "
                                  f"in {self.s!r}")
        ch = self.next()
        if ch == "}":
            val = self.lookup(name)
            if val is None:
                self._missing(name)
                return ""
            return val
        colon = ch == ":"
        if colon:
            ch = self.next()
        if ch not in ("-", "+", "?"):
            raise InvalidArgument(f"unsupported modifier ({ch or 'end of word'}) in "
                                  f"substitution {self.s!r}")
        word, _ = self.run(stop="}")
        val = self.lookup(name)
        unset = val is None or (colon and val == "")
        if ch == "-":
            return word if unset else str(val)
        if ch == "+":
            return "" if unset else word
        if unset:
            msg = word or "is not allowed to be empty" if colon else word or "not set"
            raise InvalidArgument(f"{name}: {msg}")
        return str(val)

    def _missing(self, name: str) -> None:
        if self.missing is not None:
            self.missing.add(name)


def expand(word: str, env: Mapping[str, str], escape: str = "\\",
           missing: set[str] | None = None) -> str:
    """One word's value (docker's ProcessWord): quotes removed, variables substituted."""
    value, _ = _Lexer(word, env, escape, missing).run()
    return value


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\",
                 missing: set[str] | None = None) -> list[str]:
    """The words of ``text`` (docker's ProcessWords): unquoted expansions split."""
    _, words = _Lexer(text, env, escape, missing).run()
    return words.words


def expand_keep_quotes(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Substitute variables but keep quotes as written (BuildKit's ExpandRaw, used for
    unquoted COPY/ADD heredoc bodies); the escape character still escapes."""
    value, _ = _Lexer(text, env, escape, None, raw_quotes=True).run()
    return value


def split_words_raw(line: str, escape: str = "\\") -> list[str]:
    """Split on blanks outside quotes, keeping quotes and escapes (docker's parseWords)."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if not quote and ch in " \t":
            if cur:
                words.append("".join(cur))
                cur = []
            i += 1
            continue
        if ch == escape and quote != "'" and i + 1 < len(line):
            cur.append(ch)
            cur.append(line[i + 1])
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        cur.append(ch)
        i += 1
    if cur:
        words.append("".join(cur))
    return words


__all__ = ["expand", "expand_keep_quotes", "expand_words", "split_words_raw"]
