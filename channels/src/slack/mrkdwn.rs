//! Rendering the agent's markdown as Slack mrkdwn: Slack's own bold, links, lists and escaping.

/// Slack requires these three escaped everywhere; everything else is shown as written.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Converts common markdown to mrkdwn: `**bold**` → `*bold*`, `~~x~~` → `~x~`, `[t](url)` → `<url|t>`,
/// `# Heading` → `*Heading*`, `- item` → `• item`. Code spans and blocks are kept (escaped, not converted).
pub fn render(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 8);
    let mut in_code_block = false;
    for (index, line) in markdown.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        if line.trim_start().starts_with("```") {
            in_code_block = !in_code_block;
            out.push_str(&escape(line));
            continue;
        }
        if in_code_block {
            out.push_str(&escape(line));
            continue;
        }
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(heading) = heading_text(trimmed) {
            out.push('*');
            out.push_str(&render_inline(heading));
            out.push('*');
        } else if let Some(item) = trimmed.strip_prefix("- ").or_else(|| trimmed.strip_prefix("* ")) {
            out.push_str(indent);
            out.push_str("• ");
            out.push_str(&render_inline(item));
        } else {
            out.push_str(&render_inline(line));
        }
    }
    out
}

fn heading_text(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|&ch| ch == '#').count();
    (1..=6).contains(&hashes).then(|| line[hashes..].strip_prefix(' ')).flatten().map(str::trim)
}

fn render_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some((code, tail)) = delimited(rest, "`", "`") {
            out.push('`');
            out.push_str(&escape(code));
            out.push('`');
            rest = tail;
        } else if let Some((bold, tail)) = delimited(rest, "**", "**").or_else(|| delimited(rest, "__", "__")) {
            out.push('*');
            out.push_str(&escape(bold));
            out.push('*');
            rest = tail;
        } else if let Some((struck, tail)) = delimited(rest, "~~", "~~") {
            out.push('~');
            out.push_str(&escape(struck));
            out.push('~');
            rest = tail;
        } else if let Some((label, url, tail)) = link(rest) {
            out.push('<');
            out.push_str(&url.replace('|', "%7C").replace('>', "%3E"));
            out.push('|');
            out.push_str(&escape(label));
            out.push('>');
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

fn delimited<'a>(text: &'a str, open: &str, close: &str) -> Option<(&'a str, &'a str)> {
    let after = text.strip_prefix(open)?;
    let end = after.find(close)?;
    let inner = &after[..end];
    (!inner.is_empty()).then(|| (inner, &after[end + close.len()..]))
}

fn link(text: &str) -> Option<(&str, &str, &str)> {
    let (label, after) = delimited(text, "[", "]")?;
    let (url, tail) = delimited(after, "(", ")")?;
    (url.starts_with("http://") || url.starts_with("https://") || url.starts_with("mailto:"))
        .then_some((label, url, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_markdown_to_mrkdwn() {
        assert_eq!(render("**Done** ~~maybe~~"), "*Done* ~maybe~");
        assert_eq!(render("see [the docs](https://x.io/a?b=1)"), "see <https://x.io/a?b=1|the docs>");
        assert_eq!(render("## Plan\n- one\n- two"), "*Plan*\n• one\n• two");
    }

    #[test]
    fn escapes_angle_brackets_and_ampersands_everywhere() {
        assert_eq!(render("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
        assert_eq!(render("`<tag>`"), "`&lt;tag&gt;`");
        assert_eq!(render("```\nif a<b {}\n```"), "```\nif a&lt;b {}\n```");
        // A user-controlled `<!channel>` must not become a mass mention.
        assert_eq!(render("<!channel>"), "&lt;!channel&gt;");
    }

    #[test]
    fn code_blocks_are_not_converted() {
        assert_eq!(render("```\n**x** - y\n```"), "```\n**x** - y\n```");
    }
}
