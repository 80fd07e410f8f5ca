//! Escaping for the line-oriented files ossmc writes (the connector log, the audit file).
//!
//! Their lines carry text from outside: object keys, and error messages quoting what a
//! server said. Written raw, a newline in such text would start a line that looks like one
//! of ossmc's (log injection), and an ANSI escape sequence would act on the terminal of
//! whoever views the file. Escaped, every record stays one line and shows what was received.

/// Appends `text` to `out` with `\` doubled, tab, newline and carriage return as `\t`, `\n`,
/// `\r`, and every other control character (C0, DEL, C1) and the Unicode line and paragraph
/// separators as `\x1b` or `\u{2028}`: unambiguous, since a literal `\` is doubled.
pub(crate) fn push_escaped(out: &mut String, text: &str) {
    if !text.chars().any(needs_escape) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) && c.is_ascii() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
}

fn needs_escape(c: char) -> bool {
    c == '\\' || c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        push_escaped(&mut out, text);
        out
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(
            escaped("models/qwen 7B/ü.safetensors"),
            "models/qwen 7B/ü.safetensors"
        );
    }

    #[test]
    fn line_breaks_and_tabs_are_escaped() {
        assert_eq!(escaped("a\tb\nc\rd"), "a\\tb\\nc\\rd");
        assert_eq!(
            escaped("x\u{2028}y\u{2029}z\u{85}"),
            "x\\u{2028}y\\u{2029}z\\u{85}"
        );
    }

    #[test]
    fn terminal_control_sequences_are_escaped() {
        assert_eq!(
            escaped("\x1b[31mred\x1b[0m\x07\x7f\0"),
            "\\x1b[31mred\\x1b[0m\\x07\\x7f\\x00"
        );
    }

    #[test]
    fn a_literal_backslash_cannot_pass_for_an_escape() {
        assert_eq!(escaped("\\n"), "\\\\n");
        assert_ne!(escaped("\\n"), escaped("\n"));
    }
}
