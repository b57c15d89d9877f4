"""Lexing: directives, comments, continuations, flags and heredocs."""

from __future__ import annotations

import pytest

from dockyard.build.errors import DockerfileError
from dockyard.build.parser import lex


def test_directives_only_at_top() -> None:
    p = lex("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\n# escape=\\\n")
    assert p.escape == "`"
    assert p.directives == {"syntax": "docker/dockerfile:1", "escape": "`"}


def test_directive_after_comment_is_a_comment() -> None:
    p = lex("# hello\n# escape=`\nFROM x\n")
    assert p.escape == "\\"


def test_directive_after_blank_line_is_a_comment() -> None:
    assert lex("\n# escape=`\nFROM x\n").escape == "\\"


def test_directive_case_and_spacing() -> None:
    assert lex("#  ESCAPE =  `\nFROM x\n").escape == "`"


def test_duplicate_directive_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: only one escape"):
        lex("# escape=`\n# escape=`\nFROM x\n")


def test_bad_escape_token() -> None:
    with pytest.raises(DockerfileError, match="invalid escape token"):
        lex("# escape=x\nFROM x\n")


def test_comments_and_blank_lines_skipped() -> None:
    p = lex("\n# c\n   # indented comment\nFROM x\n\nRUN a\n")
    assert [(i.keyword, i.line) for i in p.instructions] == [("FROM", 4), ("RUN", 6)]


def test_keyword_case_insensitive_and_indented() -> None:
    i = lex("  from x\n").instructions[0]
    assert i.keyword == "FROM" and i.column == 3 and i.rest == "x"


def test_continuation_joins_and_keeps_leading_space() -> None:
    i = lex("FROM x\nRUN echo a \\\n    b\n").instructions[1]
    assert i.rest == "echo a     b"
    assert (i.line, i.end_line) == (2, 3)


def test_continuation_trailing_blanks_after_escape() -> None:
    i = lex("RUN a \\   \n b\n").instructions[0]
    assert i.rest == "a  b"


def test_comment_inside_continuation_dropped() -> None:
    i = lex("RUN a \\\n# note\n  b\n").instructions[0]
    assert i.rest == "a   b"


def test_empty_continuation_line_is_skipped_and_flagged() -> None:
    i = lex("RUN a \\\n\n   \n b\nRUN c\n").instructions
    assert i[0].rest == "a  b" and i[0].empty_continuation
    assert i[1].line == 5 and not i[1].empty_continuation


def test_continuation_at_end_of_file() -> None:
    assert lex("RUN a \\\n").instructions[0].rest == "a"


def test_backtick_escape_windows_style() -> None:
    text = "# escape=`\nFROM x\nCOPY c:\\src\\ c:\\dst\\\nRUN dir `\n  c:\\\n"
    p = lex(text)
    copy, run = p.instructions[1], p.instructions[2]
    assert copy.rest == "c:\\src\\ c:\\dst\\"
    assert run.rest == "dir   c:\\"


def test_backslash_line_not_continued_with_backtick_escape() -> None:
    p = lex("# escape=`\nRUN a \\\nRUN b\n")
    assert [i.rest for i in p.instructions] == ["a \\", "b"]


def test_crlf_lines() -> None:
    p = lex("FROM x\r\nRUN a \\\r\n b\r\n")
    assert [i.rest for i in p.instructions] == ["x", "a  b"]


def test_flags_split_off() -> None:
    i = lex("COPY --from=a --chown='1:2' --link src dst\n").instructions[0]
    assert [(f.name, f.value) for f in i.flags] == [("from", "a"), ("chown", "1:2"),
                                                   ("link", None)]
    assert i.rest == "src dst"


def test_flags_stop_at_first_word() -> None:
    i = lex("RUN echo --not-a-flag\n").instructions[0]
    assert i.flags == () and i.rest == "echo --not-a-flag"


def test_double_dash_ends_flags() -> None:
    i = lex("COPY -- --weird dst\n").instructions[0]
    assert i.flags == () and i.rest == "--weird dst"


def test_heredoc_simple() -> None:
    i = lex("RUN <<EOF\necho hi\necho $x\nEOF\nCMD x\n").instructions
    assert i[0].heredocs[0].name == "EOF"
    assert i[0].heredocs[0].content == "echo hi\necho $x\n"
    assert i[0].heredocs[0].expand
    assert i[0].end_line == 4 and i[1].line == 5


def test_heredoc_chomp_strips_tabs() -> None:
    h = lex("RUN <<-EOT\n\techo a\n\t\techo b\n\tEOT\n").instructions[0].heredocs[0]
    assert h.content == "echo a\necho b\n" and h.chomp


@pytest.mark.parametrize("marker", ["<<'EOF'", '<<"EOF"'])
def test_heredoc_quoted_delimiter_no_expansion(marker: str) -> None:
    h = lex(f"RUN {marker}\necho $HOME\nEOF\n").instructions[0].heredocs[0]
    assert h.name == "EOF" and not h.expand and h.content == "echo $HOME\n"


def test_multiple_heredocs_on_one_line() -> None:
    i = lex("COPY <<A <<B /dst/\none\nA\ntwo\nB\nRUN x\n").instructions
    assert [(h.name, h.content) for h in i[0].heredocs] == [("A", "one\n"), ("B", "two\n")]
    assert i[1].line == 6


def test_heredoc_with_fd_and_program() -> None:
    i = lex("RUN python3 3<<EOF\nprint(1)\nEOF\n").instructions[0]
    assert i.heredocs[0].fd == 3


def test_heredoc_unterminated() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: unterminated heredoc EOF"):
        lex("FROM x\nRUN <<EOF\necho\n")


def test_heredoc_only_for_run_copy_add() -> None:
    i = lex("CMD cat <<EOF\nFROM y\n").instructions
    assert [x.keyword for x in i] == ["CMD", "FROM"]


def test_heredoc_lines_keep_comment_like_content() -> None:
    h = lex("RUN <<EOF\n# not a comment\n\nEOF\n").instructions[0].heredocs[0]
    assert h.content == "# not a comment\n\n"


def test_bom_is_ignored() -> None:
    assert lex("\ufeff# escape=`\nFROM x\n").escape == "`"
