//! Splitting a rendered reply into parts that fit a platform's length limit, at the most natural boundary.

/// Marks a fenced code block in both Telegram MarkdownV2 and Slack mrkdwn.
const FENCE: &str = "```";
/// What closes a code block that a split cut in two; the next part reopens it.
const FENCE_CLOSE: &str = "\n```";
const FENCE_OPEN: &str = "```\n";

/// Splits `text` into parts of at most `limit` UTF-16 code units (the unit Telegram and Slack count in).
///
/// Cuts at the last paragraph break, else line break, else space in the second half of the allowed window, and
/// only then mid-word. A cut never separates a backslash escape from the character it escapes, and a code block
/// cut in two is closed at the end of one part and reopened at the start of the next, so every part renders on
/// its own.
pub fn split_message(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(FENCE_CLOSE.len() + FENCE_OPEN.len() + 2);
    let mut parts = Vec::new();
    let mut rest = text;
    let mut reopen_fence = false;
    loop {
        let prefix = if reopen_fence { FENCE_OPEN } else { "" };
        if utf16_len(prefix) + utf16_len(rest) <= limit {
            if !rest.trim().is_empty() {
                parts.push(format!("{prefix}{rest}"));
            }
            return parts;
        }
        let budget = limit - utf16_len(prefix) - utf16_len(FENCE_CLOSE);
        let window_end = prefix_end(rest, budget);
        let cut = cut_point(rest, window_end);
        let (head, tail) = rest.split_at(cut);
        let mut part = format!("{prefix}{}", head.trim_end());
        let open = fence_open_after(reopen_fence, head);
        if open {
            part.push_str(FENCE_CLOSE);
        }
        parts.push(part);
        reopen_fence = open;
        rest = tail.trim_start_matches([' ', '\n']);
    }
}

/// Length as Telegram and Slack count it.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Byte index of the longest prefix of `text` that is at most `budget` UTF-16 units (and at least one char).
fn prefix_end(text: &str, budget: usize) -> usize {
    let mut units = 0;
    for (index, ch) in text.char_indices() {
        units += ch.len_utf16();
        if units > budget {
            return if index == 0 { ch.len_utf8() } else { index };
        }
    }
    text.len()
}

/// Where to cut inside `text[..window_end]`: the best boundary in the window's second half, else the window end.
fn cut_point(text: &str, window_end: usize) -> usize {
    let window = &text[..window_end];
    let half = window_end / 2;
    for boundary in ["\n\n", "\n", " "] {
        if let Some(found) = window.rfind(boundary).filter(|&found| found >= half && found > 0) {
            return found + boundary.len();
        }
    }
    step_back_over_escape(text, window_end)
}

/// Moves a hard cut left until it does not fall between a `\` and the character it escapes.
fn step_back_over_escape(text: &str, mut cut: usize) -> usize {
    loop {
        let backslashes = text[..cut].chars().rev().take_while(|&ch| ch == '\\').count();
        if backslashes % 2 == 0 || cut <= 1 {
            return cut;
        }
        cut -= 1;
    }
}

/// Whether a code block is still open after `chunk`, given whether one was open before it.
fn fence_open_after(open_before: bool, chunk: &str) -> bool {
    let fences = chunk.matches(FENCE).count();
    open_before ^ (fences % 2 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_message("hello", 4096), vec!["hello".to_string()]);
    }

    #[test]
    fn ten_thousand_characters_become_three_parts_cut_between_words() {
        let text = "lorem ipsum dolor ".repeat(556);
        let text = text.trim_end();
        assert!(text.len() >= 10_000);
        let parts = split_message(text, 4096);
        assert_eq!(parts.len(), 3);
        for part in &parts {
            assert!(utf16_len(part) <= 4096);
            assert!(!part.starts_with(' ') && !part.ends_with(' '));
        }
        assert_eq!(parts.join(" "), text);
    }

    #[test]
    fn prefers_paragraph_then_line_boundaries() {
        let text = format!("{}\n\n{}\n{}", "a".repeat(60), "b".repeat(30), "c".repeat(30));
        let parts = split_message(&text, 100);
        assert_eq!(parts[0], "a".repeat(60));
        let parts = split_message(&format!("{}\n{}", "a".repeat(60), "b".repeat(60)), 100);
        assert_eq!(parts, vec!["a".repeat(60), "b".repeat(60)]);
    }

    #[test]
    fn never_separates_an_escape_from_its_character() {
        let text = "\\.".repeat(100);
        for limit in [11, 12, 13, 51] {
            for part in split_message(&text, limit) {
                let trailing = part.chars().rev().take_while(|&ch| ch == '\\').count();
                assert_eq!(trailing % 2, 0, "part {part:?} ends inside an escape (limit {limit})");
                assert!(utf16_len(&part) <= limit);
            }
        }
    }

    #[test]
    fn counts_utf16_units_not_bytes() {
        let text = "😀".repeat(30);
        let parts = split_message(&text, 20);
        assert!(parts.iter().all(|part| utf16_len(part) <= 20));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn code_block_cut_in_two_is_closed_and_reopened() {
        let text = format!("```\n{}\n```", "let x = 1;\n".repeat(20));
        let parts = split_message(&text, 100);
        assert!(parts.len() > 1);
        for part in &parts {
            assert_eq!(part.matches(FENCE).count() % 2, 0, "unbalanced fence in {part:?}");
            assert!(utf16_len(part) <= 100);
        }
    }
}
