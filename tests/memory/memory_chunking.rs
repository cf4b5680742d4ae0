//! Chunking: headings, code blocks, overlap, CJK and the byte-range invariant.

use chitin::memory::tokens::estimate_tokens;
use chitin::memory::{Chunk, ChunkingConfig, chunk_markdown};

fn config(target_tokens: usize, overlap_tokens: usize) -> ChunkingConfig {
    ChunkingConfig { target_tokens, overlap_tokens }
}

fn assert_ranges_match(source: &str, chunks: &[Chunk]) {
    for chunk in chunks {
        assert_eq!(chunk.text, source[chunk.byte_range.clone()], "text must be the source slice");
        assert_eq!(chunk.text, chunk.text.trim(), "chunks carry no surrounding whitespace");
    }
}

#[test]
fn headings_start_chunks_and_build_the_path() {
    let source = "Intro line.\n\n# Travel\n\nGeneral notes.\n\n## Lisbon\n\nHotel in Alfama.\n\n## Tokyo\n\nShinjuku.\n\n# Work\n\nStandup at 9.\n";
    let chunks = chunk_markdown(source, &ChunkingConfig::default());
    let paths: Vec<Vec<&str>> =
        chunks.iter().map(|chunk| chunk.heading_path.iter().map(String::as_str).collect()).collect();
    assert_eq!(paths, vec![vec![], vec!["Travel"], vec!["Travel", "Lisbon"], vec!["Travel", "Tokyo"], vec!["Work"],]);
    assert_eq!(chunks[2].text, "## Lisbon\n\nHotel in Alfama.");
    assert_eq!(chunks[2].embedding_input(), "Travel > Lisbon\n\n## Lisbon\n\nHotel in Alfama.");
    assert_ranges_match(source, &chunks);
}

#[test]
fn setext_headings_and_inline_code_in_titles_count() {
    let source = "Setup `chitin`\n==============\n\nRun it.\n\nDetails\n-------\n\nMore.\n";
    let chunks = chunk_markdown(source, &ChunkingConfig::default());
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].heading_path, vec!["Setup chitin"]);
    assert_eq!(chunks[1].heading_path, vec!["Setup chitin", "Details"]);
}

#[test]
fn code_blocks_stay_whole_even_when_larger_than_the_target() {
    let code: String = (0..80).map(|line| format!("let value_{line} = compute({line});\n")).collect();
    let source = format!("# Snippet\n\nBefore the code.\n\n```rust\n{code}```\n\nAfter the code.\n");
    let chunks = chunk_markdown(&source, &config(40, 10));
    let with_code: Vec<&Chunk> = chunks.iter().filter(|chunk| chunk.text.contains("```")).collect();
    assert_eq!(with_code.len(), 1, "the fence must not be split");
    assert!(with_code[0].text.contains("let value_0 ") && with_code[0].text.contains("let value_79 "));
    assert!(with_code[0].estimated_tokens > 40);
    assert!(chunks.last().is_some_and(|chunk| chunk.text.ends_with("After the code.")));
    assert_ranges_match(&source, &chunks);
}

#[test]
fn long_prose_is_packed_to_the_target_with_sentence_overlap() {
    let sentences: Vec<String> =
        (0..60).map(|number| format!("Sentence number {number} talks about the garden and the weather.")).collect();
    let source = sentences.join(" ");
    let chunks = chunk_markdown(&source, &config(60, 15));
    assert!(chunks.len() > 5);
    for chunk in &chunks {
        assert!(chunk.estimated_tokens <= 60, "chunk of {} tokens", chunk.estimated_tokens);
        assert!(chunk.text.starts_with("Sentence") && chunk.text.ends_with('.'));
    }
    for pair in chunks.windows(2) {
        assert!(pair[1].byte_range.start < pair[0].byte_range.end, "consecutive chunks overlap");
        assert!(pair[1].byte_range.start > pair[0].byte_range.start, "chunks move forward");
        let repeated = &source[pair[1].byte_range.start..pair[0].byte_range.end];
        assert!(estimate_tokens(repeated) <= 15);
    }
    let last = chunks.last().map(|chunk| chunk.byte_range.end);
    assert_eq!(last, Some(source.len()), "nothing is lost at the end");
    assert_ranges_match(&source, &chunks);
}

#[test]
fn cjk_text_without_spaces_is_cut_at_sentence_punctuation() {
    let sentence = "今天我们在会议上讨论了数据库连接超时的问题。";
    let source = sentence.repeat(30);
    let chunks = chunk_markdown(&source, &config(50, 0));
    assert!(chunks.len() >= 10, "got {} chunks", chunks.len());
    for chunk in &chunks {
        assert!(chunk.estimated_tokens <= 50);
        assert!(chunk.text.ends_with('。'), "cut inside a sentence: {}", chunk.text);
    }
    assert_ranges_match(&source, &chunks);
}

#[test]
fn a_single_enormous_word_is_hard_split_on_char_boundaries() {
    let source = "é".repeat(3000) + " tail";
    let chunks = chunk_markdown(&source, &config(40, 5));
    assert!(chunks.len() > 1);
    for chunk in &chunks {
        assert!(chunk.estimated_tokens <= 40);
    }
    assert_ranges_match(&source, &chunks);
    let covered: usize = chunks.iter().map(|chunk| chunk.byte_range.len()).sum();
    assert!(covered >= source.len() - 1);
}

#[test]
fn lists_tables_and_quotes_are_chunked_without_loss() {
    let source = "# Mixed\n\n- first item\n- second item\n  - nested item\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quoted text\n\n<div>html</div>\n";
    let chunks = chunk_markdown(source, &ChunkingConfig::default());
    assert_eq!(chunks.len(), 1);
    for fragment in ["nested item", "| 1 | 2 |", "quoted text", "<div>html</div>"] {
        assert!(chunks[0].text.contains(fragment), "missing {fragment}");
    }
}

#[test]
fn empty_and_whitespace_documents_give_no_chunks() {
    assert!(chunk_markdown("", &ChunkingConfig::default()).is_empty());
    assert!(chunk_markdown(" \n\n\t ", &ChunkingConfig::default()).is_empty());
}

#[test]
fn unvalidated_config_cannot_stall_the_chunker() {
    let source = "One. Two. Three. Four. Five. Six.";
    let chunks = chunk_markdown(source, &config(0, 100));
    for word in ["One", "Two", "Three", "Four", "Five", "Six"] {
        assert!(chunks.iter().any(|chunk| chunk.text.contains(word)), "lost {word}");
    }
    assert_ranges_match(source, &chunks);
}
