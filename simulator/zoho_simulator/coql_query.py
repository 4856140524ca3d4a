"""A COQL `select_query` read into its parts: the subset a connector uses.

    select f1, f2, ... from Module where <criteria>
        [order by f [asc|desc], ...] [limit N [offset M] | limit M, N]

What Zoho documents, and this parser holds to (v7 Get Records through a COQL Query, its
errors table; COQL Limitations; Kaizen #171):
* keywords in any case; a field or module name that is a reserved word goes in quotes
  (`select 'External' from ...`);
* WHERE is mandatory, and so is FROM: without either, SYNTAX_ERROR; a statement other than
  SELECT is a SYNTAX_ERROR too;
* every `and`/`or` joins exactly two criteria: `(A and B) and C`, `A and (B or C)`; three
  criteria in a row without brackets (`A and B and C`) is a SYNTAX_ERROR;
* comparators `=, !=, <, <=, >, >=, is null, is not null, in (...), not in (...), like,
  not like, between ... and ..., not between ... and ...`;
* strings in single or double quotes, the quote doubled inside (`'O''Brien'`); numbers;
  a bare word is a value too (`Lead_Source = Advertisement` in Zoho's own sample);
* `limit M, N` is offset M and N rows, as `limit N offset M` (used with Zoho, e.g. in
  Deluge COQL pagination guides).

Nothing here knows the org's fields: which names, types and values a query may use is
coql_criteria.py's and coql_api.py's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .api_types import ApiError

SELECT_QUERY_MESSAGE = "invalid query formed"
# Reserved words that cannot stand for a field or module name unless quoted.
KEYWORDS = {"select", "from", "where", "order", "by", "asc", "desc", "limit", "offset", "and",
            "or", "not", "is", "null", "in", "like", "between", "group", "as", "having"}
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<word>[A-Za-z_$][\w$.]*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),;*])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str  # string | number | word | op | punct | end
    text: str  # as written (a string with its quotes)
    at: int  # offset in the query

    @property
    def value(self) -> str:
        """A string's text without its quotes (doubled quotes made single); else the text."""
        if self.kind != "string":
            return self.text
        quote = self.text[0]
        return self.text[1:-1].replace(quote * 2, quote)

    def keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


@dataclass(frozen=True)
class Value:
    """A value of a criterion as written: `string` (quoted), `number`, or `word` (bare)."""
    kind: str
    text: str


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str  # one of COMPARISONS, or "is null", "not in", "not between", ...
    values: tuple[Value, ...] = ()


@dataclass(frozen=True)
class Group:
    operator: str  # "and" | "or"
    left: Condition | Group
    right: Condition | Group


Criteria = Condition | Group


@dataclass(frozen=True)
class OrderItem:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class CoqlQuery:
    columns: tuple[str, ...]
    module: str
    where: Criteria
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None

    def conditions(self) -> list[Condition]:
        """Every criterion of the WHERE clause, left to right."""
        found: list[Condition] = []
        todo: list[Criteria] = [self.where]
        while todo:
            node = todo.pop()
            if isinstance(node, Condition):
                found.append(node)
            else:
                todo += [node.right, node.left]
        return found


def syntax_error(details: dict[str, object]) -> ApiError:
    return ApiError(400, "SYNTAX_ERROR", SELECT_QUERY_MESSAGE, details)


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise syntax_error(_where(text, pos, text[pos:pos + 10]))
        kind = m.lastgroup or ""
        if kind != "space":
            out.append(Token(kind, m.group(), pos))
        pos = m.end()
    out.append(Token("end", "", len(text)))
    return out


def _where(text: str, at: int, near: str) -> dict[str, object]:
    """Zoho's parse-error details: the line and column (1-based) and the text near it."""
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return {"line": line, "column": column, "near": near}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.items = tokens(text)
        self.pos = 0

    @property
    def token(self) -> Token:
        return self.items[self.pos]

    def take(self) -> Token:
        tok = self.items[self.pos]
        self.pos = min(self.pos + 1, len(self.items) - 1)
        return tok

    def fail(self, tok: Token | None = None) -> ApiError:
        tok = tok or self.token
        return syntax_error(_where(self.text, tok.at, tok.text or "<end of query>"))

    def expect_keyword(self, *words: str) -> Token:
        if not self.token.keyword(*words):
            raise self.fail()
        return self.take()

    def expect_punct(self, text: str) -> None:
        if not (self.token.kind == "punct" and self.token.text == text):
            raise self.fail()
        self.take()

    def name(self) -> str:
        """A field or module name: a bare word that is no keyword, or a quoted one."""
        tok = self.token
        if tok.kind == "string" or (tok.kind == "word" and tok.text.lower() not in KEYWORDS):
            self.take()
            return tok.value.strip()
        raise self.fail()

    def integer(self) -> int:
        tok = self.token
        if tok.kind != "number" or not tok.text.isdigit():
            raise self.fail()
        self.take()
        return int(tok.text)

    # ---------------------------------------------------------------- the statement
    def query(self) -> CoqlQuery:
        if not self.token.keyword("select"):
            raise syntax_error({"clause": "select"})  # not a SELECT statement
        self.take()
        columns = [self.name()]
        while self.token.text == ",":
            self.take()
            columns.append(self.name())
        if not self.token.keyword("from"):
            if self.token.kind == "end":
                raise syntax_error({"clause": "from"})
            raise self.fail()
        self.take()
        module = self.name()
        if not self.token.keyword("where"):
            if self.token.kind == "end" or self.token.keyword("order", "limit", "offset"):
                raise syntax_error({"clause": "where"})
            raise self.fail()
        self.take()
        where = self.criteria()
        order = self.order_by()
        limit, offset = self.paging()
        if self.token.text == ";":
            self.take()
        if self.token.kind != "end":
            raise self.fail()
        return CoqlQuery(tuple(columns), module, where, order, limit, offset)

    def order_by(self) -> tuple[OrderItem, ...]:
        if not self.token.keyword("order"):
            return ()
        self.take()
        self.expect_keyword("by")
        items = []
        while True:
            name = self.name()
            descending = False
            if self.token.keyword("asc", "desc"):
                descending = self.take().text.lower() == "desc"
            items.append(OrderItem(name, descending))
            if self.token.text != ",":
                return tuple(items)
            self.take()

    def paging(self) -> tuple[int | None, int | None]:
        limit = offset = None
        if self.token.keyword("limit"):
            self.take()
            limit = self.integer()
            if self.token.text == ",":  # limit offset, count
                self.take()
                offset, limit = limit, self.integer()
                return limit, offset
        if self.token.keyword("offset"):
            self.take()
            offset = self.integer()
        return limit, offset

    # ---------------------------------------------------------------- criteria
    def criteria(self) -> Criteria:
        """Two operands at most per level of brackets: a third `and`/`or` is ambiguous."""
        left = self.operand()
        if not self.token.keyword("and", "or"):
            return left
        operator = self.take().text.lower()
        right = self.operand()
        if self.token.keyword("and", "or"):
            raise self.fail()  # A and B and C: Zoho wants pairwise brackets
        return Group(operator, left, right)

    def operand(self) -> Criteria:
        if self.token.text == "(":
            self.take()
            inner = self.criteria()
            self.expect_punct(")")
            return inner
        return self.condition()

    def condition(self) -> Condition:
        field = self.name()
        tok = self.token
        if tok.kind == "op" and tok.text in COMPARISONS:
            self.take()
            return Condition(field, tok.text, (self.value(),))
        if tok.keyword("is"):
            self.take()
            negated = self.token.keyword("not")
            if negated:
                self.take()
            self.expect_keyword("null")
            return Condition(field, "is not null" if negated else "is null")
        negated = tok.keyword("not")
        if negated:
            self.take()
        word = self.token
        if word.keyword("in"):
            self.take()
            self.expect_punct("(")
            values = [self.value()]
            while self.token.text == ",":
                self.take()
                values.append(self.value())
            self.expect_punct(")")
            return Condition(field, "not in" if negated else "in", tuple(values))
        if word.keyword("like"):
            self.take()
            return Condition(field, "not like" if negated else "like", (self.value(),))
        if word.keyword("between"):
            self.take()
            low = self.value()
            self.expect_keyword("and")
            return Condition(field, "not between" if negated else "between",
                             (low, self.value()))
        raise self.fail(word)

    def value(self) -> Value:
        tok = self.token
        if tok.kind == "string":
            self.take()
            return Value("string", tok.value)
        if tok.kind == "number":
            self.take()
            return Value("number", tok.text)
        if tok.kind == "word" and tok.text.lower() not in KEYWORDS - {"null"}:
            self.take()
            return Value("word", tok.text)
        raise self.fail()


def parse_query(text: str) -> CoqlQuery:
    """The parts of a `select_query`; SYNTAX_ERROR (HTTP 400) where it is not one."""
    return _Parser(text).query()
