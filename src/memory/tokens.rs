//! Cheap token-count estimate used to size chunks without running a tokenizer.
//!
//! Chunking runs on every document the indexer sees, so it must not pay for a real tokenizer (and
//! it cannot know which one: OpenAI, Ollama and MiniLM all tokenize differently). The estimate
//! only has to be close enough that a chunk of "200 tokens" fits a 256-word-piece model window.

/// Estimates how many model tokens `text` becomes.
///
/// Rules, each an average over common tokenizers rather than an exact count:
/// - a CJK ideograph, kana or hangul syllable is one token (BERT splits them per character, BPE
///   tokenizers give one to two);
/// - a run of letters or digits is one token per started 6 characters (short words are one token,
///   long identifiers and error codes split into pieces);
/// - any other visible character (punctuation, symbols) is one token;
/// - whitespace is free.
pub fn estimate_tokens(text: &str) -> usize {
    let mut tokens = 0;
    let mut word_chars: usize = 0;
    for character in text.chars() {
        if character.is_alphanumeric() && !is_cjk(character) {
            word_chars += 1;
            continue;
        }
        tokens += word_chars.div_ceil(6);
        word_chars = 0;
        if !character.is_whitespace() {
            tokens += 1;
        }
    }
    tokens + word_chars.div_ceil(6)
}

/// True for characters of scripts written without spaces between words (Chinese, Japanese,
/// Korean), which need per-character counting and their own sentence punctuation.
pub fn is_cjk(character: char) -> bool {
    matches!(character as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FA1F  // CJK extensions B..F and supplement
    )
}

/// True for punctuation that ends a sentence in CJK text, where no space follows it.
pub fn is_cjk_sentence_end(character: char) -> bool {
    matches!(character, '。' | '！' | '？' | '；' | '．')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_words_count_about_one_token_each() {
        assert_eq!(estimate_tokens("the quick brown fox"), 4);
        assert_eq!(estimate_tokens("hello, world."), 4);
    }

    #[test]
    fn long_identifiers_split_into_pieces() {
        assert_eq!(estimate_tokens("internationalization"), 4);
    }

    #[test]
    fn cjk_counts_per_character() {
        assert_eq!(estimate_tokens("我们明天去北京"), 7);
        assert_eq!(estimate_tokens("東京。"), 3);
    }

    #[test]
    fn whitespace_is_free() {
        assert_eq!(estimate_tokens("  \n\t "), 0);
        assert_eq!(estimate_tokens(""), 0);
    }
}
