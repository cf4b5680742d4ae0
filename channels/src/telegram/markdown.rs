//! Rendering the agent's markdown as Telegram MarkdownV2, escaping everything Telegram would otherwise parse.

/// Characters MarkdownV2 treats as markup outside code; each must be preceded by `\` to appear literally.
const SPECIAL: &[char] =
    &['_', '*', '[', ']', '(', ')', '~', '`', '>', '#', '+', '-', '=', '|', '{', '}', '.', '!', '\\'];

/// Escapes `text` so Telegram shows it exactly as written.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for ch in text.chars() {
        if SPECIAL.contains(&ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Inside `pre` and `code` entities only `` ` `` and `\` are special.
fn escape_code(text: &str) -> String {
    text.replace('\\', "\\\\").replace('`', "\\`")
}

/// Inside the `(...)` of a link only `)` and `\` are special.
fn escape_url(url: &str) -> String {
    url.replace('\\', "\\\\").replace(')', "\\)")
}

/// Renders common markdown (fenced code, inline code, `**bold**`, `[text](url)`) as MarkdownV2 and escapes
/// everything else, so an LLM's stray `.` or `!` never makes Telegram reject the message.
pub fn render(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 4);
    let mut rest = markdown;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("```") {
            let (block, tail) = match after.find("```") {
                Some(end) => (&after[..end], &after[end + 3..]),
                None => (after, ""),
            };
            let (language, code) = match block.split_once('\n') {
                Some((first, code)) if !first.contains(' ') => (first, code),
                _ => ("", block),
            };
            out.push_str("```");
            out.push_str(&language.replace(|ch: char| !ch.is_alphanumeric() && ch != '+' && ch != '-', ""));
            out.push('\n');
            out.push_str(&escape_code(code.strip_suffix('\n').unwrap_or(code)));
            out.push_str("\n```");
            rest = tail;
        } else if let Some((code, tail)) = delimited(rest, "`", "`") {
            out.push('`');
            out.push_str(&escape_code(code));
            out.push('`');
            rest = tail;
        } else if let Some((bold, tail)) = delimited(rest, "**", "**") {
            out.push('*');
            out.push_str(&escape(bold));
            out.push('*');
            rest = tail;
        } else if let Some((label, url, tail)) = link(rest) {
            out.push('[');
            out.push_str(&escape(label));
            out.push_str("](");
            out.push_str(&escape_url(url));
            out.push(')');
            rest = tail;
        } else {
            let mut chars = rest.chars();
            let ch = chars.next().unwrap_or_default();
            out.push_str(&escape(ch.encode_utf8(&mut [0; 4])));
            rest = chars.as_str();
        }
    }
    out
}

/// `open inner close tail` → `(inner, tail)` when `inner` is non-empty and on one line.
fn delimited<'a>(text: &'a str, open: &str, close: &str) -> Option<(&'a str, &'a str)> {
    let after = text.strip_prefix(open)?;
    let end = after.find(close)?;
    let inner = &after[..end];
    (!inner.is_empty() && !inner.contains('\n')).then(|| (inner, &after[end + close.len()..]))
}

/// `[label](url) tail` → `(label, url, tail)` for http(s) links.
fn link(text: &str) -> Option<(&str, &str, &str)> {
    let (label, after) = delimited(text, "[", "]")?;
    let (url, tail) = delimited(after, "(", ")")?;
    (url.starts_with("http://") || url.starts_with("https://")).then_some((label, url, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        let all = "_*[]()~>#+-=|{}.!";
        let escaped = escape(all);
        assert_eq!(escaped, "\\_\\*\\[\\]\\(\\)\\~\\>\\#\\+\\-\\=\\|\\{\\}\\.\\!");
        assert_eq!(render(all), escaped);
        assert_eq!(escape("a\\b`c"), "a\\\\b\\`c");
    }

    #[test]
    fn plain_sentences_get_their_punctuation_escaped() {
        assert_eq!(render("Done. Cost: 3-4 USD (approx)!"), "Done\\. Cost: 3\\-4 USD \\(approx\\)\\!");
    }

    #[test]
    fn renders_bold_code_and_links() {
        assert_eq!(render("**v1.2** is out"), "*v1\\.2* is out");
        assert_eq!(render("run `a_b.sh`"), "run `a_b.sh`");
        assert_eq!(render("[docs](https://x.io/a_b) ok."), "[docs](https://x.io/a_b) ok\\.");
        assert_eq!(render("```rust\nlet a = `x`;\n```"), "```rust\nlet a = \\`x\\`;\n```");
    }

    #[test]
    fn unbalanced_markup_is_escaped_not_interpreted() {
        assert_eq!(render("**oops"), "\\*\\*oops");
        assert_eq!(render("`x"), "\\`x");
        assert_eq!(render("[a](ftp://b)"), "\\[a\\]\\(ftp://b\\)");
    }
}
